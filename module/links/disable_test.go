package links_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestSetDisabled: a disabled link's ceiling is None, so its tokens grant
// nothing, and an enabled one gets its ceiling back; each change is told
// once and audited, a repeated one is neither; its other fields stay.
func TestSetDisabled(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, sec := f.create(t, "app")
	audit, logs := observer.New(zap.InfoLevel)
	reg, err := links.New(f.st, testKeys(t), nil, f.clock.Now, zap.New(audit), func() { f.changed++ })
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(t0.Add(time.Hour))
	got, err := reg.SetDisabled(ctx, l.ID, true, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Disabled || got.Ceiling != scope.Write || got.ClientID != l.ClientID || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("SetDisabled(true) = %+v", got)
	}
	if c, err := reg.Ceiling(ctx, l.ID); err != nil || c != scope.None {
		t.Errorf("Ceiling of a disabled link = %v, %v; want None", c, err)
	}
	if _, err := reg.SetDisabled(ctx, l.ID, true, "bob"); err != nil || f.changed != 1 {
		t.Errorf("disabling twice: %v, changed %d times, want once", err, f.changed)
	}
	if _, err := reg.Authenticate(ctx, l.ClientID, sec); err != nil {
		t.Errorf("the registry no longer knows the secret of a disabled link: %v", err)
	}
	got, err = reg.SetDisabled(ctx, l.ID, false, "carol")
	if err != nil || got.Disabled {
		t.Fatalf("SetDisabled(false) = %+v, %v", got, err)
	}
	if c, err := reg.Ceiling(ctx, l.ID); err != nil || c != scope.Write {
		t.Errorf("Ceiling of a link enabled again = %v, %v; want WRITE", c, err)
	}
	if f.changed != 2 {
		t.Errorf("changed callback called %d times, want 2", f.changed)
	}
	for msg, by := range map[string]string{"link disabled": "bob", "link enabled": "carol"} {
		e := logs.FilterMessage(msg).All()
		if len(e) != 1 || e[0].ContextMap()["by"] != by || e[0].ContextMap()["link_id"] != l.ID {
			t.Errorf("%q audit entries: %v", msg, e)
		}
	}
	if _, err := reg.SetDisabled(ctx, "nope", true, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDisabled of an unknown link = %v, want ErrNotFound", err)
	}
}

// TestSetDisabledDeclared: a link of the configuration is changed there.
func TestSetDisabledDeclared(t *testing.T) {
	f := newFixture(t, links.ConfigLink{Name: "declared", RedirectURIs: []string{"https://d.example/cb"}, ClientSecret: "x"})
	if _, err := f.reg.SetDisabled(context.Background(), links.ConfigID("declared"), true, "bob"); !errors.Is(err, links.ErrReadOnly) {
		t.Errorf("SetDisabled of a declared link = %v, want ErrReadOnly", err)
	}
	if f.changed != 0 {
		t.Errorf("changed callback called for a declared link")
	}
}
