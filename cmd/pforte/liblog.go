package main

import (
	"context"
	"log/slog"
)

// libraryHandler is the handler of the default logger, through which the
// libraries log (zitadel/oidc above all). zitadel/oidc logs every request
// it refuses ("request error", "auth request") at WARN, with the OAuth
// error as oidc_error: a client's mistake, answered with a 4xx. Pforte's
// levels say who should act (WARN and ERROR: an operator), so such a record
// is passed on at INFO; its oidc_error carries the reason code. The
// library logs server errors at ERROR, and a record with a status_code of
// 500 or more keeps its level.
type libraryHandler struct{ slog.Handler }

func (h libraryHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && refusedRequest(r) {
		if !h.Handler.Enabled(ctx, slog.LevelInfo) {
			return nil
		}
		r.Level = slog.LevelInfo
	}
	return h.Handler.Handle(ctx, r)
}

func (h libraryHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return libraryHandler{h.Handler.WithAttrs(as)}
}

func (h libraryHandler) WithGroup(name string) slog.Handler {
	return libraryHandler{h.Handler.WithGroup(name)}
}

// refusedRequest reports whether r is the library's record of a request it
// answered with a client error.
func refusedRequest(r slog.Record) bool {
	oauthErr, serverStatus := false, false
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "oidc_error":
			oauthErr = true
		case "status_code":
			serverStatus = a.Value.Kind() == slog.KindInt64 && a.Value.Int64() >= 500
		}
		return true
	})
	return oauthErr && !serverStatus
}
