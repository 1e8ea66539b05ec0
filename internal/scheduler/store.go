package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// Persisted is what the scheduler stores durably: the framework id and
// the whole policy state (tasks it launched or is about to launch, the
// current server, backoff). It is written before every ACCEPT and after
// every status update, before the update is acknowledged.
type Persisted struct {
	FrameworkID string    `json:"framework_id,omitempty"`
	State       *State    `json:"state"`
	SavedAt     time.Time `json:"saved_at"`
}

// Store keeps Persisted durably. Implementations need not be safe for
// concurrent use: the controller's goroutine is the only caller.
type Store interface {
	// Load returns the stored value, or ok=false if nothing is stored.
	Load(ctx context.Context) (p Persisted, ok bool, err error)
	Save(ctx context.Context, p Persisted) error
	// Clear forgets everything (after TEARDOWN).
	Clear(ctx context.Context) error
}

// FileStore keeps the state in one JSON file, replaced atomically
// (write temp file, fsync, rename, fsync dir).
type FileStore struct {
	Path string
}

// NewFileStore returns a store at dir/scheduler-state.json, creating dir.
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("scheduler: state dir: %w", err)
	}
	return &FileStore{Path: filepath.Join(dir, "scheduler-state.json")}, nil
}

// Load implements Store.
func (f *FileStore) Load(context.Context) (Persisted, bool, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return Persisted{}, false, nil
	}
	if err != nil {
		return Persisted{}, false, fmt.Errorf("scheduler: read state: %w", err)
	}
	var p Persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return Persisted{}, false, fmt.Errorf("scheduler: state file %s is corrupt: %w", f.Path, err)
	}
	return p, true, nil
}

// Save implements Store.
func (f *FileStore) Save(_ context.Context, p Persisted) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.Path)
	tmp, err := os.CreateTemp(dir, ".scheduler-state-*")
	if err != nil {
		return fmt.Errorf("scheduler: save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("scheduler: save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("scheduler: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("scheduler: save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("scheduler: save state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Clear implements Store.
func (f *FileStore) Clear(context.Context) error {
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ZKStore keeps the state in one znode (data limit ~1 MB; the controller
// bounds the task history it keeps).
type ZKStore struct {
	conn *zk.Conn
	node string
}

// NewZKStore connects to the ensemble of a zk://host:port/path URL; the
// state lives in the node path/state.
func NewZKStore(zkURL string, log *slog.Logger) (*ZKStore, error) {
	u, err := mesos.ParseZKURL(zkURL)
	if err != nil {
		return nil, err
	}
	conn, err := mesos.DialZK(u, 10*time.Second, log)
	if err != nil {
		return nil, err
	}
	if err := mesos.EnsureZKPath(conn, u.Path); err != nil {
		conn.Close()
		return nil, err
	}
	return &ZKStore{conn: conn, node: path.Join(u.Path, "state")}, nil
}

// Close ends the ZooKeeper session.
func (z *ZKStore) Close() { z.conn.Close() }

// Load implements Store.
func (z *ZKStore) Load(context.Context) (Persisted, bool, error) {
	b, _, err := z.conn.Get(z.node)
	if errors.Is(err, zk.ErrNoNode) {
		return Persisted{}, false, nil
	}
	if err != nil {
		return Persisted{}, false, fmt.Errorf("scheduler: zookeeper get %s: %w", z.node, err)
	}
	var p Persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return Persisted{}, false, fmt.Errorf("scheduler: zookeeper state %s is corrupt: %w", z.node, err)
	}
	return p, true, nil
}

// Save implements Store.
func (z *ZKStore) Save(_ context.Context, p Persisted) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = z.conn.Set(z.node, b, -1)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = z.conn.Create(z.node, b, 0, zk.WorldACL(zk.PermAll))
	}
	if err != nil {
		return fmt.Errorf("scheduler: zookeeper save %s: %w", z.node, err)
	}
	return nil
}

// Clear implements Store.
func (z *ZKStore) Clear(context.Context) error {
	err := z.conn.Delete(z.node, -1)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("scheduler: zookeeper delete %s: %w", z.node, err)
	}
	return nil
}
