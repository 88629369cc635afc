package integration

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"

	"github.com/applinks/caddy-applinks/module/admin"
)

// soakMeter measures a running gateway: its Badger directory, its
// process and, through the admin API's backup stream, its records.
type soakMeter struct {
	dir, admin string
	pid        int
}

// soakSample is one measurement, at a time since the traffic began.
type soakSample struct {
	at   time.Duration
	disk dirUsage
	// rss is the process's resident size; anon and file its parts in
	// anonymous memory (the Go heap) and in mapped files (Badger's
	// memory-mapped tables and logs).
	rss, anon, file int64
	// live counts the live keys per prefix; stale the entries the store
	// still holds that no read returns (expired, deleted, or older
	// versions of a key). Both are nil and 0 in a sample that did not
	// count.
	live  keyCounts
	stale int
	// rssAfterBackup is the resident size once the backup that counted
	// was read.
	rssAfterBackup int64
}

// sample measures the gateway now, counting its records when count is
// set; a failed count fails the test.
func (m *soakMeter) sample(t *testing.T, at time.Duration, count bool) soakSample {
	t.Helper()
	// The resident size first: a backup's buffers come on top of it.
	smp := soakSample{at: at, rss: vmRSS(t, m.pid), anon: procStatus(t, m.pid, "RssAnon"), file: procStatus(t, m.pid, "RssFile"), disk: m.usage(t)}
	if !count {
		return smp
	}
	var err error
	if smp.live, smp.stale, err = backupCounts(m.admin); err != nil {
		t.Fatalf("counting the store's keys at %s: %v", at, err)
	}
	smp.rssAfterBackup = vmRSS(t, m.pid)
	return smp
}

func (m *soakMeter) usage(t *testing.T) dirUsage {
	t.Helper()
	u, err := badgerUsage(m.dir)
	if err != nil {
		t.Fatalf("measuring the Badger directory: %v", err)
	}
	return u
}

// String is one line of the sample for the log.
func (s soakSample) String() string {
	line := fmt.Sprintf("%6s  disk %s  rss %s (anon %s, file %s)", s.at.Round(time.Second), s.disk, mib(s.rss), mib(s.anon), mib(s.file))
	if s.live != nil {
		line += fmt.Sprintf(", %s after the backup  live %v  stale %d", mib(s.rssAfterBackup), s.live, s.stale)
	}
	return line
}

// dirUsage is what a Badger directory takes on disk (allocated blocks) by
// kind of file, and the sum of its files' sizes, which counts the unwritten
// parts of Badger's preallocated log files too.
type dirUsage struct {
	sst, wal, vlog, other int64
	apparent              int64
}

// allocated is the directory's size on disk.
func (u dirUsage) allocated() int64 { return u.sst + u.wal + u.vlog + u.other }

// String gives the sizes in MiB.
func (u dirUsage) String() string {
	return fmt.Sprintf("%s on disk (sst %s, wal %s, vlog %s, other %s), files %s", mib(u.allocated()), mib(u.sst), mib(u.wal), mib(u.vlog), mib(u.other), mib(u.apparent))
}

// badgerUsage measures the Badger directory dir: .sst tables, .mem
// memtable write-ahead logs, .vlog value logs and the rest (manifest, key
// registry, discard stats).
func badgerUsage(dir string) (dirUsage, error) {
	var u dirUsage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by a compaction meanwhile
		}
		if err != nil {
			return err
		}
		u.apparent += fi.Size()
		onDisk := fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			onDisk = st.Blocks * 512
		}
		switch filepath.Ext(path) {
		case ".sst":
			u.sst += onDisk
		case ".mem":
			u.wal += onDisk
		case ".vlog":
			u.vlog += onDisk
		default:
			u.other += onDisk
		}
		return nil
	})
	return u, err
}

// badgerBitDelete is Badger's meta bit of a deletion marker.
const badgerBitDelete = 1

// backupCounts reads a gateway's backup stream from its admin API (Badger's
// backup of every version of every key it still holds, length-prefixed
// protobuf lists) and counts the live keys per prefix, as countKeys does on
// a stopped store, and the stale entries: deletion markers, expired
// entries and older versions, which compactions have not dropped yet.
func backupCounts(adminBase string) (keyCounts, int, error) {
	resp, err := http.Get(adminBase + "/applinks/backup")
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("backup: %d %s", resp.StatusCode, readBodyErr(resp))
	}
	now := uint64(time.Now().Unix())
	live, stale := keyCounts{}, 0
	r := bufio.NewReader(resp.Body)
	var prev []byte
	for {
		var n uint64
		if err := binary.Read(r, binary.LittleEndian, &n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, 0, fmt.Errorf("reading the backup stream: %w", err)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, 0, fmt.Errorf("reading the backup stream: %w", err)
		}
		var list pb.KVList
		if err := proto.Unmarshal(buf, &list); err != nil {
			return nil, 0, fmt.Errorf("decoding the backup stream: %w", err)
		}
		// A key's versions come together, newest first.
		for _, kv := range list.Kv {
			older := string(kv.Key) == string(prev)
			prev = kv.Key
			deleted := len(kv.Meta) > 0 && kv.Meta[0]&badgerBitDelete != 0
			expired := kv.ExpiresAt != 0 && kv.ExpiresAt <= now
			if older || deleted || expired {
				stale++
				continue
			}
			p, _, _ := strings.Cut(string(kv.Key), "/")
			live[p+"/"]++
		}
	}
	if st := resp.Trailer.Get(admin.BackupStatusTrailer); st != "complete" {
		return nil, 0, fmt.Errorf("the backup stream was cut short (status %q)", st)
	}
	return live, stale, nil
}

// soakTable is the samples that counted the records as a Markdown table.
func soakTable(samples []soakSample) string {
	var b strings.Builder
	b.WriteString("| minute | on disk | sst | WAL (.mem) | vlog | VmRSS (anon + file) | live c/ | live g/ | live t/ | live s/ | live op/ | stale entries |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range samples {
		if s.live == nil {
			continue
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s (%s + %s) | %d | %d | %d | %d | %d | %d |\n", int(s.at.Round(time.Minute)/time.Minute),
			mib(s.disk.allocated()), mib(s.disk.sst), mib(s.disk.wal), mib(s.disk.vlog), mib(s.rss), mib(s.anon), mib(s.file),
			s.live["c/"], s.live["g/"], s.live["t/"], s.live["s/"], s.live["op/"], s.stale)
	}
	return b.String()
}

// mib formats a size in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// soakLogLines counts the lines of Caddy's log at path above the info
// level by level, logger and message, and returns the error lines and any
// line about a panic, which an operator would have to look at.
func soakLogLines(t *testing.T, path string) (map[string]int, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	var problems []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct{ Level, Logger, Msg string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || strings.Contains(strings.ToLower(sc.Text()), "panic") {
			problems = append(problems, sc.Text())
			continue
		}
		switch l.Level {
		case "debug", "info":
			continue
		case "warn":
		default:
			problems = append(problems, sc.Text())
		}
		counts[l.Level+" "+l.Logger+": "+l.Msg]++
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading caddy's log: %v", err)
	}
	return counts, problems
}
