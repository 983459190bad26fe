package callout

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Reload re-reads the rules file and the home's keys. A rules file with
// any problem is refused whole and the rules in force stay; the error
// lists every problem with its line and column. After a change the live
// connections that the new rules no longer grant (another rule, account
// or permissions, or none) are ended. It returns how many were ended.
func (s *Service) Reload() (int, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	keysErr := s.keys.load()
	if keysErr != nil {
		s.log.Warn("callout: keys not reloaded; the previous ones stay", "err", keysErr)
	}
	if s.cfg.RulesFile == "" {
		return s.revokeUngranted(), keysErr
	}
	rs, err := LoadRules(s.cfg.RulesFile)
	if err == nil {
		err = s.checkRules(rs)
	}
	if err == nil {
		err = s.oidc.update(rs.Providers)
	}
	if err != nil {
		s.log.Error("callout: rules file refused; the rules in force stay", "err", err)
		return 0, err
	}
	old := s.rules.Swap(rs)
	if old != nil && old.Sum == rs.Sum && keysErr == nil {
		return 0, nil
	}
	s.log.Info("callout rules reloaded", "rules", len(rs.Rules), "file", rs.Path)
	return s.revokeUngranted(), keysErr
}

// watchRules reloads the rules file when it changes. It watches the
// file's directory, since editors and config management replace files.
func (s *Service) watchRules(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch rules file: %w", err)
	}
	abs, err := filepath.Abs(s.cfg.RulesFile)
	if err != nil {
		w.Close()
		return fmt.Errorf("watch rules file: %w", err)
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return fmt.Errorf("watch rules file: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer w.Close()
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					debounce = time.After(100 * time.Millisecond)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				s.log.Warn("callout: rules file watch", "err", err)
			case <-debounce:
				debounce = nil
				_, _ = s.Reload()
			}
		}
	}()
	return nil
}
