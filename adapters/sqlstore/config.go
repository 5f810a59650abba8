package sqlstore

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"github.com/pforte-id/pforte/core/fault"
)

// Drivers Config.Driver accepts.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Config selects and tunes the database. The zero values of the pool fields
// mean "the default for the driver" (see WithDefaults).
type Config struct {
	// Driver is "sqlite" or "postgres".
	Driver string
	// DSN is the data source name. For SQLite a plain file path (no "?") is
	// completed with SQLiteDSN; a DSN with parameters is used as given and
	// should carry the same pragmas. For PostgreSQL it is a pgx URL or
	// keyword/value string; extra URL parameters such as search_path become
	// session settings.
	DSN string
	// MaxOpenConns limits open connections (SQLite: readers run in parallel
	// under WAL, writers queue on the busy timeout).
	MaxOpenConns int
	// MaxIdleConns is how many idle connections are kept.
	MaxIdleConns int
	// ConnMaxLifetime recycles connections (0: keep them).
	ConnMaxLifetime time.Duration
	// Tracer, when set, gets a span for every call of the store
	// ("store.ClientByID"; see trace.go). Nil: no span, at no cost.
	Tracer trace.TracerProvider
}

// Pool defaults per driver.
const (
	// SQLite serialises writers anyway; a few connections let readers run
	// beside the one writer without many writers spinning on the busy lock.
	defaultSQLiteMaxOpen = 8
	// PostgreSQL: enough for a replica under load, well below the default
	// max_connections (100) even with a few replicas.
	defaultPostgresMaxOpen  = 20
	defaultPostgresLifetime = 30 * time.Minute
)

// WithDefaults returns c with zero pool settings replaced by the defaults
// of its driver.
func (c Config) WithDefaults() Config {
	switch c.Driver {
	case DriverSQLite:
		if c.MaxOpenConns == 0 {
			c.MaxOpenConns = defaultSQLiteMaxOpen
		}
	case DriverPostgres:
		if c.MaxOpenConns == 0 {
			c.MaxOpenConns = defaultPostgresMaxOpen
		}
		if c.ConnMaxLifetime == 0 {
			c.ConnMaxLifetime = defaultPostgresLifetime
		}
	}
	if c.MaxIdleConns == 0 {
		// Keep every connection: opening one costs a TLS handshake on
		// PostgreSQL and the pragma round on SQLite.
		c.MaxIdleConns = c.MaxOpenConns
	}
	return c
}

// Validate checks c. Errors: fault.Invalid whose Op names the field
// ("sqlstore.Config.MaxOpenConns"); the text never quotes the DSN.
func (c Config) Validate() error {
	field := func(name, msg string) error {
		return fault.New(fault.Invalid, "sqlstore.Config."+name, msg)
	}
	switch c.Driver {
	case DriverSQLite, DriverPostgres:
	case "":
		return field("Driver", "required (sqlite or postgres)")
	default:
		return field("Driver", "must be sqlite or postgres, not "+c.Driver)
	}
	if strings.TrimSpace(c.DSN) == "" {
		return field("DSN", "required: the PostgreSQL connection string or the SQLite file")
	}
	if c.Driver == DriverPostgres {
		if _, err := pgx.ParseConfig(c.DSN); err != nil {
			// The cause (password redacted by pgx) is for the log; the
			// public text does not quote the DSN.
			return fault.Wrap(fault.Invalid, "sqlstore.Config.DSN", err).
				WithPublic("is not a valid PostgreSQL connection string")
		}
	}
	switch {
	case c.MaxOpenConns < 0:
		return field("MaxOpenConns", "must not be negative")
	case c.MaxIdleConns < 0:
		return field("MaxIdleConns", "must not be negative")
	case c.MaxOpenConns > 0 && c.MaxIdleConns > c.MaxOpenConns:
		return field("MaxIdleConns", "must not exceed the open connections")
	case c.ConnMaxLifetime < 0:
		return field("ConnMaxLifetime", "must not be negative")
	}
	return nil
}

// sqlitePragmas are applied by the driver on every new connection:
// WAL lets readers run beside the writer; busy_timeout makes a writer wait
// for the lock instead of failing at once; foreign_keys enforces the token
// family references; synchronous=NORMAL is durable enough under WAL (a power
// cut may lose the last transactions, never corrupt the file).
// _txlock=immediate takes the write lock at BEGIN, so that two writers never
// both hold a read snapshot and then deadlock upgrading it.
var sqlitePragmas = []string{
	"journal_mode(WAL)",
	"busy_timeout(5000)",
	"foreign_keys(1)",
	"synchronous(NORMAL)",
}

// SQLiteDSN returns the DSN for the SQLite database file at path, with the
// pragmas Pforte relies on.
func SQLiteDSN(path string) string {
	var b strings.Builder
	b.WriteString(path)
	for i, p := range sqlitePragmas {
		if i == 0 {
			b.WriteString("?")
		} else {
			b.WriteString("&")
		}
		b.WriteString("_pragma=" + p)
	}
	b.WriteString("&_txlock=immediate")
	return b.String()
}

// dsn returns the DSN to open.
func (c Config) dsn() string {
	if c.Driver == DriverSQLite && !strings.Contains(c.DSN, "?") {
		return SQLiteDSN(c.DSN)
	}
	return c.DSN
}
