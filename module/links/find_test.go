package links_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestLinkReferenceNeverPicksOneOfTwoLinks: a link named like another
// link's id cannot make an administrator who types that id edit or delete
// the wrong link: such a name is refused, and a reference that is one
// link's id and another's name (a declared link added later) names
// neither.
func TestLinkReferenceNeverPicksOneOfTwoLinks(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	victim, _ := f.create(t, "victim")
	if _, _, err := f.reg.Create(ctx, links.NewLink{Name: victim.ID, RedirectURIs: []string{"https://x.example/cb"}, Ceiling: victim.Ceiling}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("a link named as another link's id: %v", err)
	}
	for _, ref := range []string{victim.ID, "victim"} {
		if got, err := f.reg.Find(ctx, ref); err != nil || got.ID != victim.ID {
			t.Errorf("Find(%q) = %+v, %v", ref, got, err)
		}
	}
	if _, err := f.reg.Find(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Find of an unknown reference: %v", err)
	}

	squatter, _ := f.create(t, links.ConfigID("later"))
	declared := links.ConfigLink{Name: "later", RedirectURIs: []string{"https://later.example/cb"}, ClientSecret: "later-secret"}
	reg, err := links.New(f.st, testKeys(t), []links.ConfigLink{declared}, f.clock.Now, zap.NewNop(), func() {})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := reg.Find(ctx, links.ConfigID("later")); !errors.Is(err, links.ErrAmbiguous) {
		t.Fatalf("Find of a reference that is the declared link's id and %s's name = %+v, %v", squatter.ID, got, err)
	}
	if got, err := reg.Find(ctx, squatter.ID); err != nil || got.ID != squatter.ID {
		t.Errorf("the squatting link is still found by its id: %+v, %v", got, err)
	}
}
