package e2e

import (
	"database/sql"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/housekeeping"
	"github.com/pforte-id/pforte/ports/metrics"
)

// Housekeeping on two replicas at once: a login leaves a code, tokens, a
// session and a pending request behind; once all of it has expired (and
// the session's retention is over), both replicas run housekeeping at
// the same moment, exactly one of them does, and the rows are gone.
func TestHousekeepingRemovesExpiredRowsOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		st := eng.storage(t)
		r1 := w.start(t, st)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r2 := w.serve(t, ln, r1.issuer, st)
		rp := r1.rp(t, w.web, nil)
		rp.login(t, "openid", "offline_access")
		// A request the member never finished.
		newBrowser(t).get(t, rp.authURL(newAttempt("openid")))

		tables := []string{"auth_requests", "auth_codes", "token_families", "refresh_tokens", "access_tokens", "sessions"}
		count := func(table string) int {
			t.Helper()
			var db *sql.DB
			for _, p := range r1.srv.Store().Pools() {
				db = p
				break
			}
			var n int
			if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Fatalf("count %s: %v", table, err)
			}
			return n
		}
		for _, table := range tables {
			if count(table) == 0 {
				t.Fatalf("no %s row after the login", table)
			}
		}

		// Everything the login left has expired; the session is past its
		// absolute end and the retention that follows it.
		w.clock.Advance(100 * 24 * time.Hour)
		reps := make([]housekeeping.Report, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, r := range []*instance{r1, r2} {
			wg.Go(func() { reps[i], errs[i] = r.srv.Housekeeping().RunDue(t.Context()) })
		}
		wg.Wait()
		ran := -1
		for i := range reps {
			if errs[i] != nil {
				t.Fatalf("replica %d: RunDue: %v", i, errs[i])
			}
			switch reps[i].Outcome {
			case metrics.RunDone:
				if ran >= 0 {
					t.Fatal("both replicas ran housekeeping")
				}
				ran = i
			case metrics.RunSkipped:
			default:
				t.Fatalf("replica %d: outcome %s", i, reps[i].Outcome)
			}
		}
		if ran < 0 {
			t.Fatal("neither replica ran housekeeping")
		}
		for _, table := range tables {
			if n := count(table); n != 0 {
				t.Errorf("%d %s rows after housekeeping", n, table)
			}
		}
		// The replica that ran wrote the metric-ready line of each task
		// and counted it.
		in := []*instance{r1, r2}[ran]
		logs := in.logs.String()
		for _, task := range in.srv.Housekeeping().Tasks() {
			if !strings.Contains(logs, `"msg":"housekeeping task","task":"`+task+`"`) {
				t.Errorf("no log line of task %s:\n%s", task, logs)
			}
		}
		rec := httptest.NewRecorder()
		in.srv.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		for _, want := range []string{
			`pforte_housekeeping_runs_total{outcome="done"} 1`,
			`pforte_housekeeping_task_runs_total{outcome="done",task="expired"} 1`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		// A run asked for now, right after, finds nothing left.
		rep, err := []*instance{r1, r2}[1-ran].srv.Housekeeping().RunNow(t.Context())
		if err != nil || rep.Outcome != metrics.RunDone || rep.Rows() != 0 {
			t.Fatalf("RunNow after the run: %s, %d rows, %v", rep.Outcome, rep.Rows(), err)
		}
	})
}
