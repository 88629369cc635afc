package grants_test

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store/badgerstore"
)

// BenchmarkLiveGrants checks SPEC §8 at scale: it fills Badger with
// APPLINKS_GRANTS live grants (default 1,000,000) through the token
// service, then reopens the store and reports the open time, the RSS the
// open store adds, and cached and uncached validation times. It takes
// minutes; run it alone:
//
//	go test -run '^$' -bench LiveGrants -benchtime 1x -timeout 30m ./module/grants/
func BenchmarkLiveGrants(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("APPLINKS_GRANTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	cfg := grants.Config{AccessTTL: time.Hour, RefreshTTL: 24 * time.Hour, CodeTTL: time.Minute, RefreshGrace: 10 * time.Second, ReplayMemory: time.Minute}
	c := grants.Client{LinkID: "l", ClientID: "c", Ceiling: scope.Write}

	// Fill.
	st, err := badgerstore.Open(dir, badgerstore.Options{Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	s := grants.New(st, everyone{}, everyone{}, new(grants.Epoch), cfg, time.Now, zap.NewNop())
	sample := make([]string, 0, 10_000)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for i := w; i < n; i += workers {
				code, err := s.IssueCode(ctx, grants.CodeRequest{Client: c, UserID: "u" + strconv.Itoa(i%5000), RedirectURI: "https://x/cb", Scope: scope.Write})
				if err != nil {
					b.Error(err)
					return
				}
				tok, err := s.Exchange(ctx, c, code, "https://x/cb", "", "")
				if err != nil {
					b.Error(err)
					return
				}
				if i%(n/cap(sample)+1) == 0 {
					mu.Lock()
					sample = append(sample, tok.AccessToken)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	b.Logf("filled %d grants in %s", n, time.Since(start).Round(time.Second))
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	s, st = nil, nil
	runtime.GC()
	debug.FreeOSMemory()
	beforeAnon, beforeFile := rssMiB(b)

	// Reopen: this is the gateway's start-up cost.
	b.ResetTimer()
	start = time.Now()
	st, err = badgerstore.Open(dir, badgerstore.Options{Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	open := time.Since(start)
	b.StopTimer()
	defer st.Close()
	epoch := new(grants.Epoch)
	s = grants.New(st, everyone{}, everyone{}, epoch, cfg, time.Now, zap.NewNop())
	v := grants.NewValidator(s, epoch, grants.DefaultCacheEntries, time.Now)
	ctx := context.Background()
	start = time.Now()
	for _, tok := range sample {
		if _, err := s.Validate(ctx, tok, "access"); err != nil {
			b.Fatal(err)
		}
	}
	uncached := time.Since(start) / time.Duration(len(sample))
	for _, tok := range sample {
		_, _ = v.Validate(ctx, tok)
	}
	start = time.Now()
	const rounds = 20
	for range rounds {
		for _, tok := range sample {
			if _, err := v.Validate(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	}
	cachedNs := time.Since(start) / time.Duration(rounds*len(sample))
	afterAnon, afterFile := rssMiB(b)
	b.ReportMetric(float64(open.Milliseconds()), "open-ms")
	// Anonymous memory is what the store costs; file-backed pages are the
	// mapped database files, which the kernel can drop at any time.
	b.ReportMetric(afterAnon-beforeAnon, "anon-RSS-MiB")
	b.ReportMetric(afterFile-beforeFile, "file-RSS-MiB")
	b.ReportMetric(float64(uncached.Nanoseconds()), "uncached-ns/validation")
	b.ReportMetric(float64(cachedNs.Nanoseconds()), "cached-ns/validation")
}

// rssMiB reads the anonymous and file-backed resident memory of this
// process.
func rssMiB(b *testing.B) (anon, file float64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatalf("reading /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "RssAnon:":
			anon = float64(kb) / 1024
		case "RssFile:":
			file = float64(kb) / 1024
		}
	}
	return anon, file
}
