package sqlstore

import (
	"database/sql"
	"encoding/json"
	"time"
)

// ms is a time column: milliseconds since the Unix epoch, UTC; NULL is the
// zero time.
func ms(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// msInt is a time for a NOT NULL column (expiry) or a comparison ("now").
func msInt(t time.Time) int64 { return t.UnixMilli() }

// fromMS reads a time column back, in UTC.
func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// fromMSInt reads a NOT NULL time column back, in UTC.
func fromMSInt(v int64) time.Time { return time.UnixMilli(v).UTC() }

// list is a list column: a JSON array in TEXT.
func list(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Marshalling []string cannot fail.
		panic(err)
	}
	return string(b)
}

// fromList reads a list column back; an empty list is nil.
func fromList(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// fromOptList reads a nullable list column back.
func fromOptList(s sql.NullString) ([]string, error) {
	if !s.Valid {
		return nil, nil
	}
	return fromList(s.String)
}

// blob is a BYTEA column; an empty value is NULL.
func blob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// fromBlob reads a BYTEA column back (database/sql has copied it); an
// empty value is nil.
func fromBlob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// duration is an optional duration column in nanoseconds.
func duration(d *time.Duration) sql.NullInt64 {
	if d == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*d), Valid: true}
}

func fromDuration(v sql.NullInt64) *time.Duration {
	if !v.Valid {
		return nil
	}
	d := time.Duration(v.Int64)
	return &d
}
