// Command queue runs workers in a queue group and feeds them orders: each
// message published to the group's subject goes to exactly one worker.
//
//	NATS_CREDS=admin.creds go run ./examples/go/queue -workers 3 -messages 9
//
// Each worker is its own connection, as separate processes would be; the
// server spreads the messages among the members of queue group "workers".
// With -messages 0 it only runs the workers until interrupted, so several
// copies of this program share one queue group.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	subject := flag.String("subject", "orders.process", "subject the workers take orders from")
	group := flag.String("group", "workers", "queue group name")
	workers := flag.Int("workers", 3, "workers to start")
	messages := flag.Int("messages", 9, "orders to publish (0: only run the workers until interrupted)")
	timeout := flag.Duration("timeout", 10*time.Second, "how long to wait for every order to be processed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *subject, *group, *workers, *messages, *timeout); err != nil {
		log.SetFlags(0)
		log.Fatalf("queue: %v", err)
	}
}

func run(ctx context.Context, subject, group string, workers, messages int, timeout time.Duration) error {
	if workers < 1 {
		return fmt.Errorf("-workers %d: want at least 1", workers)
	}
	var (
		mu        sync.Mutex
		processed = map[string]int{} // order -> times processed
		perWorker = make([]int, workers)
		done      = make(chan struct{})
	)
	for w := range workers {
		nc, err := connect(fmt.Sprintf("example-worker-%d", w+1))
		if err != nil {
			return err
		}
		defer nc.Close()
		_, err = nc.QueueSubscribe(subject, group, func(m *nats.Msg) {
			mu.Lock()
			defer mu.Unlock()
			processed[string(m.Data)]++
			perWorker[w]++
			fmt.Printf("worker %d processed %s\n", w+1, m.Data)
			if messages > 0 && len(processed) == messages {
				close(done)
			}
		})
		if err != nil {
			return fmt.Errorf("worker %d: subscribe to %s: %w", w+1, subject, err)
		}
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("worker %d: flush: %w", w+1, err)
		}
		if err := nc.LastError(); err != nil {
			return fmt.Errorf("worker %d: subscribe to %s: %w", w+1, subject, err)
		}
	}
	fmt.Printf("%d workers in queue group %q on %s\n", workers, group, subject)
	if messages == 0 {
		<-ctx.Done()
		return nil
	}

	pub, err := connect("example-queue-publisher")
	if err != nil {
		return err
	}
	defer pub.Close()
	for i := 1; i <= messages; i++ {
		if err := pub.Publish(subject, fmt.Appendf(nil, "order-%d", i)); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	if err := pub.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("only %d of %d orders processed within %v", len(processed), messages, timeout)
	}
	// Give a duplicate delivery (there must be none) a moment to show up.
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	var dups []string
	for order, n := range processed {
		if n != 1 {
			dups = append(dups, fmt.Sprintf("%s x%d", order, n))
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		return fmt.Errorf("orders processed more than once: %s", strings.Join(dups, ", "))
	}
	counts := make([]string, workers)
	for w, n := range perWorker {
		counts[w] = fmt.Sprintf("worker %d: %d", w+1, n)
	}
	fmt.Printf("%d orders processed, each exactly once (%s)\n", messages, strings.Join(counts, ", "))
	return nil
}

// connect dials NATS_URL (default nats://127.0.0.1:4222) with the creds
// file NATS_CREDS, if set.
func connect(name string) (*nats.Conn, error) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	opts := []nats.Option{nats.Name(name)}
	if creds := os.Getenv("NATS_CREDS"); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return nc, nil
}
