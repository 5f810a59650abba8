package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/core/device"
)

// With a Tracer, each store call made inside a span is a client span
// named by the port method, child of that span, with the database system
// and the outcome's fault kind; failures of the store (Unavailable,
// Internal) mark it failed, expected answers (NotFound, Conflict) do not;
// arguments and error texts stay out. A call outside any span records
// nothing.
func TestStoreSpans(t *testing.T) {
	for _, eng := range []struct {
		name, system string
		config       func(testing.TB) sqlstore.Config
	}{
		{"SQLite", "sqlite", sqliteConfig},
		{"PostgreSQL", "postgresql", postgresConfig},
	} {
		t.Run(eng.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			cfg := eng.config(t)
			cfg.Tracer = tp
			s := migrated(t, mustOpen(t, cfg))

			// Background work: no span.
			if _, err := s.ClientByID(context.Background(), "nobody"); err == nil {
				t.Fatal("an unknown client was found")
			}
			if n := len(rec.Ended()); n != 0 {
				t.Fatalf("%d spans for a call outside any span", n)
			}

			ctx, req := tp.Tracer("test").Start(t.Context(), "POST /token")
			a := sampleAccount()
			if err := s.CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateAccount(ctx, a); err == nil {
				t.Fatal("a second account with the same id")
			}
			if _, err := s.ClientByID(ctx, "nobody"); err == nil {
				t.Fatal("an unknown client was found")
			}
			if _, err := s.UpdateBinding(ctx, "no-binding", func(*device.Binding) error { return nil }); err == nil {
				t.Fatal("an unknown binding was updated")
			}
			s.Close()
			if _, err := s.AccountByID(ctx, a.ID); err == nil {
				t.Fatal("a closed store answered")
			}
			req.End()

			want := []struct {
				name, errType string
				failed        bool
			}{
				{"store.CreateAccount", "", false},
				{"store.CreateAccount", "conflict", false},
				{"store.ClientByID", "not_found", false},
				{"store.UpdateBinding", "not_found", false},
				{"store.AccountByID", "unavailable", true},
			}
			var got []sdktrace.ReadOnlySpan
			for _, sp := range rec.Ended() {
				if sp.SpanKind() == trace.SpanKindClient {
					got = append(got, sp)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d store spans, want %d", len(got), len(want))
			}
			for i, w := range want {
				sp := got[i]
				attrs := map[string]string{}
				for _, kv := range sp.Attributes() {
					attrs[string(kv.Key)] = kv.Value.Emit()
					if strings.Contains(kv.Value.Emit(), a.KVNR.String()) || strings.Contains(kv.Value.Emit(), "nobody") {
						t.Errorf("%s: attribute %s carries an argument: %s", sp.Name(), kv.Key, kv.Value.Emit())
					}
				}
				if sp.Name() != w.name || sp.Parent().SpanID() != req.SpanContext().SpanID() ||
					attrs["db.system.name"] != eng.system || attrs["db.operation.name"] != strings.TrimPrefix(w.name, "store.") ||
					attrs["error.type"] != w.errType || (sp.Status().Code == codes.Error) != w.failed {
					t.Errorf("span %d: %s parent %s %v %v; want %+v under %s", i, sp.Name(), sp.Parent().SpanID(), attrs, sp.Status(), w, req.SpanContext().SpanID())
				}
				if sp.Status().Description != "" && sp.Status().Description != w.errType {
					t.Errorf("%s: status %q carries more than the kind", sp.Name(), sp.Status().Description)
				}
			}
		})
	}
}
