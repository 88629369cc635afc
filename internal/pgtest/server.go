package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// startTimeout bounds how long a server may take to accept
	// connections.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a fast shutdown; the server is killed after it.
	stopTimeout = 30 * time.Second
	// portAttempts is how often a start is tried on another free port
	// when someone else took the one chosen.
	portAttempts = 3
	// systemUser runs the server when the tests run as root, which
	// PostgreSQL refuses.
	systemUser = "postgres"
)

// Server is a PostgreSQL server that tests create databases on: one this
// package started, in a temporary directory on a loopback port with fsync
// on, or one given by EnvDSN (which Stop and Start refuse).
type Server struct {
	// admin is the DSN of the maintenance database.
	admin string

	// Set for a server this package started.
	bin  string // directory of initdb and postgres
	dir  string // temporary directory: data/, socket, log
	port int
	cred *syscall.Credential // whom the server runs as; nil: this process's user

	mu   sync.Mutex
	proc *exec.Cmd     // the running postmaster; nil when stopped
	done chan struct{} // closed when proc has exited
}

// start initialises a cluster in a new temporary directory and starts a
// server on it.
func start() (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = credentialOf(systemUser); err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged user: %w", err)
		}
	}
	if s.dir, err = s.tempDir(); err != nil {
		return nil, err
	}
	if err := s.initdb(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			break
		}
		s.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
		err = s.Start()
		if err == nil || !errors.Is(err, errPortTaken) || attempt == portAttempts {
			break
		}
	}
	if err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	return s, nil
}

// Stop shuts the server down (a fast shutdown: sessions are ended, the
// data kept) and waits until it has exited.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bin == "" {
		return errors.New("stopping a server that pgtest did not start")
	}
	if s.proc == nil {
		return nil
	}
	_ = s.proc.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		_ = s.proc.Process.Kill()
		<-s.done
	}
	s.proc = nil
	return nil
}

// Start starts the server again after Stop, on the same data and port,
// and waits until it accepts connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bin == "" {
		return errors.New("starting a server that pgtest did not start")
	}
	if s.proc != nil {
		return nil
	}
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the server log: %w", err)
	}
	defer logFile.Close() // the server has its own descriptor
	offset, _ := logFile.Seek(0, io.SeekEnd)
	cmd := exec.Command(filepath.Join(s.bin, "postgres"),
		"-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=on",
		"-c", "max_connections=200",
	)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = procAttr(s.cred)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := s.waitReady(done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		log := readFrom(logPath, offset)
		if strings.Contains(log, "could not bind") || strings.Contains(log, "already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return fmt.Errorf("%w; server log:\n%s", err, log)
	}
	s.proc, s.done = cmd, done
	return nil
}

// errPortTaken means the server could not listen on its port.
var errPortTaken = errors.New("port taken")

// remove stops the server and deletes its directory.
func (s *Server) remove() error {
	if s.bin == "" {
		return nil
	}
	if err := s.Stop(); err != nil {
		return err
	}
	return os.RemoveAll(s.dir)
}

// waitReady waits until the server accepts connections, or exits.
func (s *Server) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.admin)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		select {
		case <-exited:
			return errors.New("postgres exited while starting")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %v: %w", startTimeout, err)
		}
	}
}

// initdb creates the cluster in dir/data: superuser postgres, trusted on
// loopback, UTF-8. Only its own files skip fsync (-N); the server syncs.
func (s *Server) initdb() error {
	cmd := exec.Command(filepath.Join(s.bin, "initdb"),
		"-D", filepath.Join(s.dir, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N")
	cmd.Dir = s.dir
	cmd.SysProcAttr = procAttr(s.cred)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running initdb: %w\n%s", err, out.String())
	}
	return nil
}

// tempDir creates the server's directory, owned by the user the server
// runs as. That user must be able to reach it: as root, a TMPDIR that
// others cannot enter gives way to /tmp.
func (s *Server) tempDir() (string, error) {
	base := os.TempDir()
	if s.cred != nil {
		if fi, err := os.Stat(base); err != nil || fi.Mode().Perm()&0o001 == 0 {
			base = "/tmp"
		}
	}
	dir, err := os.MkdirTemp(base, "pgtest-")
	if err != nil {
		return "", fmt.Errorf("creating the server directory: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("handing the server directory to %s: %w", systemUser, err)
		}
	}
	return dir, nil
}

// findBinaries returns the directory of initdb and postgres: the one on
// PATH, else the newest /usr/lib/postgresql/<version>/bin.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		_, err1 := os.Stat(filepath.Join(d, "postgres"))
		_, err2 := os.Stat(filepath.Join(d, "initdb"))
		return err1 != nil || err2 != nil
	})
	if len(dirs) == 0 {
		return "", errNotFound
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	return dirs[len(dirs)-1], nil
}

// version is the major version in /usr/lib/postgresql/<version>/bin.
func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// credentialOf returns the ids of a system user.
func credentialOf(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// readFrom returns the file's text from offset on, for an error message.
func readFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}
