package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/storepool"
)

func init() {
	caddy.RegisterModule(new(Storage))
}

// Storage is the applinks.storage.badger module: applinks state in an
// embedded Badger database in a local directory. Config generations that
// name the same directory share one open database, so a config reload
// (which provisions the new config before cleaning up the old one) does
// not trip over Badger's one-opener-per-directory lock.
type Storage struct {
	// Dir is the database directory. Default: "applinks" in Caddy's data
	// directory.
	Dir string `json:"dir,omitempty"`
	// SyncWrites makes every write wait until it is on disk (msync), so
	// that it survives a power loss or kernel crash and not only a crash of
	// Caddy. It is fixed when the database is opened: changing it takes
	// effect once no config generation uses the directory any more.
	SyncWrites bool `json:"sync_writes,omitempty"`

	logger *zap.Logger
	dir    string // cleaned absolute Dir, the pool key

	ref storepool.Ref // this module's reference to the open database
}

// CaddyModule returns the Caddy module information.
func (*Storage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "applinks.storage.badger",
		New: func() caddy.Module { return new(Storage) },
	}
}

// Provision sets defaults and resolves the directory.
func (s *Storage) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	if s.Dir == "" {
		s.Dir = filepath.Join(caddy.AppDataDir(), "applinks")
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return fmt.Errorf("resolving storage directory %q: %w", s.Dir, err)
	}
	s.dir = dir
	return nil
}

// OpenStore returns the Badger store in Dir, opening the database unless
// another config generation already has it open. Calling it again returns
// the same store.
func (s *Storage) OpenStore(context.Context) (store.Store, error) {
	if s.dir == "" {
		return nil, errors.New("opening badger store: storage not provisioned")
	}
	val, loaded, err := s.ref.Open(pool, s.dir, func() (caddy.Destructor, error) {
		st, err := Open(s.dir, Options{
			SyncWrites: s.SyncWrites,
			Logger:     s.logger,
		})
		if err != nil {
			return nil, err
		}
		return pooledStore{Store: st, syncWrites: s.SyncWrites}, nil
	})
	if err != nil {
		return nil, err // Open's error names the directory
	}
	ps := val.(pooledStore)
	if loaded {
		s.logger.Debug("sharing open badger database", zap.String("dir", s.dir))
		if ps.syncWrites != s.SyncWrites {
			s.logger.Warn("sync_writes change takes effect once the database is reopened",
				zap.String("dir", s.dir), zap.Bool("in_effect", ps.syncWrites))
		}
	}
	return ps.Store, nil
}

// KeyFile returns the file next to the database directory (Dir + ".key")
// where a generated at-rest encryption key is kept.
func (s *Storage) KeyFile() string {
	dir := s.dir
	if dir == "" {
		if s.Dir == "" {
			return ""
		}
		dir = filepath.Clean(s.Dir)
	}
	return dir + ".key"
}

// Location returns the database directory.
func (s *Storage) Location() string {
	if s.dir != "" {
		return s.dir
	}
	return s.Dir
}

// Cleanup releases this module's reference to the database, which is
// closed when no config generation uses it any more.
func (s *Storage) Cleanup() error {
	deleted, err := s.ref.Release(pool)
	if deleted && s.logger != nil {
		s.logger.Debug("closed unused badger database", zap.String("dir", s.dir))
	}
	if err != nil {
		return fmt.Errorf("releasing badger store in %s: %w", s.dir, err)
	}
	return nil
}

// pool holds the open databases, keyed by cleaned absolute directory.
var pool = caddy.NewUsagePool()

// pooledStore is a Store held in the pool; the pool closes it when its
// last user is cleaned up.
type pooledStore struct {
	*Store
	syncWrites bool
}

// Destruct closes the database.
func (p pooledStore) Destruct() error {
	return p.Close()
}

// Interface guards
var (
	_ caddy.Module       = (*Storage)(nil)
	_ caddy.Provisioner  = (*Storage)(nil)
	_ caddy.CleanerUpper = (*Storage)(nil)
	_ store.Backend      = (*Storage)(nil)
	_ store.Store        = (*Store)(nil)
	_ caddy.Destructor   = pooledStore{}
)
