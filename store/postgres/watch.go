package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

const (
	// idlePing is how long the listener waits for a notification before it
	// checks that its connection is still alive.
	idlePing = 30 * time.Second
	// maxBackoff caps the wait between reconnection attempts.
	maxBackoff = 5 * time.Second
)

// Watch reports every change to account_jwts — made through this store,
// another process or any other client of the database — until ctx ends or
// the store is closed. Put events carry the JWT when it fit in the
// notification. While the connection is lost no events arrive; once it is
// back, the missed changes are reported from the change log, or an
// EventReset is sent if the log no longer reaches back far enough.
func (s *Store) Watch(ctx context.Context) (<-chan store.Event, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, store.ErrClosed
	}
	ch, err := s.bc.Watch(ctx)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if s.ready == nil {
		s.ready = make(chan struct{})
		s.listenWG.Add(1)
		go s.listen(s.ready)
	}
	ready := s.ready
	s.mu.Unlock()
	// Changes made after Watch returns must be reported: wait until the
	// listener listens (or has failed its first attempt and will reset).
	select {
	case <-ready:
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
	return ch, nil
}

// listen keeps one LISTEN connection, reconnecting with backoff, and
// publishes what it hears. It closes ready after the first attempt.
func (s *Store) listen(ready chan struct{}) {
	defer s.listenWG.Done()
	ctx := s.ctx
	st := &listenState{}
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		conn, err := s.connectListener(ctx)
		if err == nil {
			err = s.catchUp(ctx, conn, st)
		}
		if attempt == 0 {
			if err != nil {
				// Watchers were promised every change from now on and
				// may miss some before we connect: reset when we do.
				st.missed = true
			}
			close(ready)
		}
		if err == nil {
			if attempt > 0 {
				s.log.Info("watch reconnected", "seq", st.seq)
			}
			backoff = 100 * time.Millisecond
			err = s.receive(ctx, conn, st)
		}
		if conn != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closeCtx)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("watch connection lost; reconnecting", "err", s.wrapErr("listen", err), "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listenState is what the listener knows across reconnections.
type listenState struct {
	seq    int64 // highest change-log seq reported
	known  bool  // seq is meaningful
	missed bool  // changes may have been missed: send a reset
	// The parts of a large JWT received so far (PartsChannel), for the
	// change partsSeq.
	partsSeq int64
	partsN   int
	parts    []string
}

func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.cfg.ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()+"; LISTEN "+pgx.Identifier{PartsChannel}.Sanitize()); err != nil {
		_ = conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// catchUp runs after LISTEN took effect: it reports the changes logged
// since st.seq, or a reset if they are gone. Notifications that arrive
// meanwhile for those same changes are skipped by seq.
func (s *Store) catchUp(ctx context.Context, conn *pgx.Conn, st *listenState) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
	var trimmed, latest int64
	err = tx.QueryRow(ctx, `SELECT t.through, COALESCE((SELECT max(seq) FROM account_jwt_changes), 0)
FROM account_jwt_changes_trimmed t`).Scan(&trimmed, &latest)
	if err != nil {
		return err
	}
	latest = max(latest, trimmed)
	if !st.known || st.missed || trimmed > st.seq {
		if st.missed || (st.known && trimmed > st.seq) {
			s.log.Warn("watch may have missed changes: reset", "seen_seq", st.seq, "trimmed_through", trimmed)
			s.bc.Publish(store.Event{Kind: store.EventReset})
		}
		st.seq, st.known, st.missed = latest, true, false
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT seq, kind, account_id FROM account_jwt_changes WHERE seq > $1 ORDER BY seq`, st.seq)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			seq           int64
			kind, account string
		)
		if err := rows.Scan(&seq, &kind, &account); err != nil {
			return err
		}
		s.publish(st, seq, kind, account, "")
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("watch caught up from the change log", "changes", n, "seq", st.seq)
	}
	return nil
}

// receive waits for notifications until the connection fails or ctx ends.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn, st *listenState) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, idlePing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if !pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			// Quiet for a while: make sure the connection still works.
			pctx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		if n.Channel == PartsChannel {
			st.addPart(n.Payload)
			continue
		}
		s.handle(st, n.Payload)
	}
}

// addPart keeps one part of a large JWT ("seq part parts text"); parts
// come in order, just before their change's notification.
func (st *listenState) addPart(payload string) {
	f := strings.SplitN(payload, " ", 4)
	if len(f) < 4 {
		return
	}
	seq, err1 := strconv.ParseInt(f[0], 10, 64)
	part, err2 := strconv.Atoi(f[1])
	n, err3 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || err3 != nil || part < 1 || part > n || n > maxPartsJWT/partSize+1 {
		return
	}
	if part == 1 {
		st.partsSeq, st.partsN, st.parts = seq, n, st.parts[:0]
	} else if seq != st.partsSeq || n != st.partsN || part != len(st.parts)+1 {
		st.partsSeq, st.parts = 0, st.parts[:0] // a part is missing: the JWT is read back instead
		return
	}
	st.parts = append(st.parts, f[3])
}

// largeJWT returns the JWT of change seq put together from its parts, or
// "" when they did not all arrive.
func (st *listenState) largeJWT(seq int64) string {
	defer func() { st.partsSeq, st.parts = 0, st.parts[:0] }()
	if st.partsSeq != seq || len(st.parts) != st.partsN {
		return ""
	}
	return strings.Join(st.parts, "")
}

// handle decodes a payload "seq kind [account [jwt]]" and publishes it.
func (s *Store) handle(st *listenState, payload string) {
	f := strings.SplitN(payload, " ", 4)
	seq, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || len(f) < 2 {
		s.log.Warn("watch: ignored malformed notification", "payload_len", len(payload))
		return
	}
	var account, token string
	if len(f) > 2 {
		account = f[2]
	}
	if len(f) > 3 {
		token = f[3]
	} else if f[1] == "put" {
		token = st.largeJWT(seq)
	}
	s.publish(st, seq, f[1], account, token)
}

// publish reports one logged change, once.
func (s *Store) publish(st *listenState, seq int64, kind, account, token string) {
	if seq <= st.seq {
		return // already reported (caught up before its notification came)
	}
	st.seq = seq
	var ev store.Event
	switch kind {
	case "put":
		ev = store.Event{Kind: store.EventPut, Account: account, JWT: token}
	case "delete":
		ev = store.Event{Kind: store.EventDelete, Account: account}
	case "reset":
		ev = store.Event{Kind: store.EventReset}
	default:
		s.log.Warn("watch: ignored change of unknown kind", "kind", kind, "seq", seq)
		return
	}
	if ev.Kind != store.EventReset && trust.CheckAccountKey(account) != nil {
		// Written by another tool under a key that is no account key.
		s.log.Warn("watch: ignored change to a row whose key is not an account public key", "seq", seq)
		return
	}
	s.bc.Publish(ev)
}
