package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/letterscan"
)

// registrationLoad is a member's registration by password letter through
// the app API: order the letter (POST /app/v1/registrations), wait until
// the server's letter worker has put it into the outbox, activate the app
// with the letter's activation code and initial password, and set an own
// password. Each member of --members-csv registers once (a letter per
// member is what the server allows), in the order of the file, so a run
// does at most as many operations as the file has members; when they are
// used up the run ends early and says so. The latency of each step is
// reported too: the order alone is "letter ordered".
//
// The wait for the letter includes the server's worker interval
// (registration.worker_interval) and this tool's look at the outbox every
// 20 ms, so the throughput depends on them and on the concurrency.
type registrationLoad struct {
	*env
	progress io.Writer
	members  []seedMember
	next     atomic.Int64
	letters  *letterWatch
	stop     context.CancelFunc
}

// Steps of a registration.
const (
	stepOrder    = "letter ordered"
	stepLetter   = "letter in the outbox"
	stepActivate = "activation"
	stepOwnPW    = "own password"
)

func (w *registrationLoad) Setup(ctx context.Context) error {
	if err := needSeeds(w.cfg); err != nil {
		return err
	}
	if err := w.discover(ctx); err != nil {
		return err
	}
	ms, err := w.readMembers()
	if err != nil {
		return err
	}
	if err := uniqueNames(ms); err != nil {
		return err
	}
	if w.cfg.Requests > uint64(len(ms)) {
		return fmt.Errorf("--requests %d: each member registers once, and the run has %d members of %s (--members %d); generate a larger file", w.cfg.Requests, len(ms), w.cfg.MembersCSV, w.cfg.Members)
	}
	if w.letters, err = watchLetters(w.cfg.Outbox); err != nil {
		return fmt.Errorf("--outbox: %w", err)
	}
	w.members = ms
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stop = stop
	go w.letters.run(bg, 20*time.Millisecond)
	fmt.Fprintf(w.progress, "registration: at most %d operations, one per member of %s\n", len(ms), w.cfg.MembersCSV)
	return nil
}

// Close stops watching the outbox.
func (w *registrationLoad) Close() {
	if w.stop != nil {
		w.stop()
	}
}

func (w *registrationLoad) Do(ctx context.Context) error {
	i := w.next.Add(1) - 1
	if i >= int64(len(w.members)) {
		return fmt.Errorf("%w: every one of the %d members of %s has registered", errExhausted, len(w.members), w.cfg.MembersCSV)
	}
	m := w.members[i]
	letter, done, err := w.letters.expect(m)
	if err != nil {
		return inStep(stepOrder, err)
	}
	defer done()
	t := time.Now()
	if err := w.requestLetter(ctx, m); err != nil {
		return inStep(stepOrder, fmt.Errorf("member %s: %w", m.KVNR, err))
	}
	w.steps.record(stepOrder, time.Since(t))

	t = time.Now()
	var c letterscan.Content
	timeout := time.NewTimer(w.cfg.SeedTimeout)
	defer timeout.Stop()
	select {
	case c = <-letter:
	case <-timeout.C:
		return inStep(stepLetter, fmt.Errorf("member %s: %w after %v (%s)", m.KVNR, errNoLetter, w.cfg.SeedTimeout, w.letters.stats()))
	case <-ctx.Done():
		return inStep(stepLetter, ctx.Err())
	}
	w.steps.record(stepLetter, time.Since(t))

	t = time.Now()
	token, err := w.activate(ctx, m, c)
	if err != nil {
		return inStep(stepActivate, fmt.Errorf("member %s: %w", m.KVNR, err))
	}
	w.steps.record(stepActivate, time.Since(t))

	t = time.Now()
	if err := w.setPassword(ctx, token); err != nil {
		return inStep(stepOwnPW, fmt.Errorf("member %s: %w", m.KVNR, err))
	}
	w.steps.record(stepOwnPW, time.Since(t))
	return nil
}
