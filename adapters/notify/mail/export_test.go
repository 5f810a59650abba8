package mail

import "time"

// SetNow replaces the clock that dates messages.
func SetNow(n *Notifier, now func() time.Time) { n.now = now }
