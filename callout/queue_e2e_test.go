package callout_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/callout"
)

// attempt is one client connect, timed on the monotonic clock.
type attempt struct {
	start, end time.Time
	err        error
}

// TestQueueGroupKillLosesOnlyInFlightConnects runs three instances in the
// queue group, has clients connect continuously, and kills one instance
// (its connection dropped, as when the process dies). Every connect that
// fails must have been in flight at that moment: started before the
// server saw the instance gone and not finished before it was killed.
func TestQueueGroupKillLosesOnlyInFlightConnects(t *testing.T) {
	e := newEnv(t, envOpts{})
	if err := e.users.Add(context.Background(), "alice", "correct horse", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	registerOps(e.op)
	token := e.op.MustToken(t, "orders-svc", "s3cret-orders")

	var victimConn *nats.Conn
	var svcs []*callout.Service
	for i := range 3 {
		base := e.serviceConnect()
		s, _ := e.service(func(c *callout.Config) {
			c.Workers = 4
			if i == 0 {
				c.Connect = func(ctx context.Context) (*nats.Conn, error) {
					nc, err := base(ctx)
					victimConn = nc
					return nc, err
				}
			}
		})
		svcs = append(svcs, s)
	}
	victim := svcs[0]
	cid, err := victimConn.GetClientID()
	if err != nil {
		t.Fatal(err)
	}

	const workers, perWorker = 8, 60
	var (
		mu       sync.Mutex
		attempts []attempt
		ok       atomic.Int64
	)
	var killStart, killDone time.Time
	killed := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				opt := nats.UserInfo("alice", "correct horse")
				if (w+i)%2 == 0 {
					opt = nats.Token(token)
				}
				a := attempt{start: time.Now()}
				nc, err := nats.Connect(e.node.ClientURL(), opt, nats.MaxReconnects(0), nats.Timeout(10*time.Second))
				a.end, a.err = time.Now(), err
				if err == nil {
					nc.Close()
					ok.Add(1)
				}
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
			}
		}()
	}
	// Kill the victim once a third of the connects have succeeded.
	go func() {
		defer close(killed)
		for ok.Load() < workers*perWorker/3 {
			time.Sleep(time.Millisecond)
		}
		killStart = time.Now()
		victimConn.Close() // the instance is gone: no drain, no goodbye
		srv := e.node.Server()
		for {
			cz, err := srv.Connz(&server.ConnzOptions{CID: cid})
			if err == nil && len(cz.Conns) == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		killDone = time.Now()
	}()
	wg.Wait()
	<-killed

	var failed, inFlight int
	for _, a := range attempts {
		overlaps := a.start.Before(killDone) && a.end.After(killStart)
		if overlaps {
			inFlight++
		}
		if a.err == nil {
			continue
		}
		failed++
		if !overlaps {
			t.Errorf("a connect started %v after the kill was complete failed: %v", a.start.Sub(killDone), a.err)
		}
	}
	victimHandled := victim.Stats().Handled
	t.Logf("connects: %d, failed: %d, in flight at the kill: %d; handled per instance: %d (killed), %d, %d",
		len(attempts), failed, inFlight, victimHandled, svcs[1].Stats().Handled, svcs[2].Stats().Handled)
	if len(attempts) != workers*perWorker {
		t.Fatalf("%d attempts, want %d", len(attempts), workers*perWorker)
	}
	if victimHandled == 0 || svcs[1].Stats().Handled == 0 || svcs[2].Stats().Handled == 0 {
		t.Error("the queue group did not share the load among the three instances")
	}
	if failed > inFlight {
		t.Errorf("%d connects failed, more than the %d in flight at the kill", failed, inFlight)
	}
}
