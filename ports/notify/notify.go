package notify

import "context"

// Message is one notification to a member.
type Message struct {
	// To is the member's e-mail address on file.
	To string
	// Subject and Body are plain text in the language of the request that
	// caused the message (German by default), worded by the message
	// catalog. They never contain a secret.
	Subject string
	Body    string
	// Kind is the audit kind that caused it (for logs and tests).
	Kind string
}

// Notifier delivers messages.
type Notifier interface {
	// Notify delivers m. Errors: Invalid (bad address); Unavailable.
	Notify(ctx context.Context, m Message) error
}
