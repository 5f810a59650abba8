package letterprint

import (
	"context"

	"github.com/pforte-id/pforte/core/letter"
)

// Renderer turns a letter document into a print-ready file (PDF).
type Renderer interface {
	// Render returns the file. It is deterministic for a document, apart
	// from metadata such as creation time. Errors: Invalid for a document
	// that cannot be printed (e.g. an address too long for the window).
	Render(ctx context.Context, d letter.Document) ([]byte, error)
}

// Outbox hands files to the print service.
type Outbox interface {
	// Put stores file under name atomically: the print service sees the
	// complete file or nothing, never a part. Putting an existing name
	// replaces it. Errors: Invalid for a bad name; Unavailable.
	Put(ctx context.Context, name string, file []byte) error
	// Exists reports whether name is in the outbox (not yet collected).
	Exists(ctx context.Context, name string) (bool, error)
}
