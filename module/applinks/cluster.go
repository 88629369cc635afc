package applinks

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store"
)

// announceTimeout bounds how long a revocation waits to be announced to
// the other gateways.
const announceTimeout = 5 * time.Second

// joinCluster, when st is shared with other gateways, makes this one
// announce its revocations and signing-key changes to them and listen to
// theirs: a revocation drops cached validations, a key change reloads the
// keyring, a runtime outgoing link's change drops its cached copy. Until
// the listener is connected, and whenever it loses its connection, the
// validator is deaf: it stops trusting its cache (see
// max_stale_validation).
func (a *App) joinCluster(st store.Store) {
	shared, ok := st.(store.Shared)
	if !ok {
		return
	}
	a.shared = shared
	a.tokens.Deaf(true)
	a.epoch.AnnounceWith(func() { a.announce(store.TopicRevoked) })
	a.outgoing.InCluster(shared.Exclusively, func() { a.announce(store.TopicOutgoingLinks) })
	go shared.Listen(a.ctx, a.heard, a.listening)
}

// announce tells the other gateways that something of topic changed; a
// failure is logged, since the change itself is already stored.
func (a *App) announce(topic string) {
	if a.shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), announceTimeout)
	defer cancel()
	if err := a.shared.Announce(ctx, topic); err != nil {
		a.logger.Warn("announcing a change to the other gateways", zap.String("topic", topic), zap.Error(err))
	}
}

// heard acts on an announcement of any gateway sharing the store.
func (a *App) heard(topic string) {
	switch topic {
	case store.TopicRevoked:
		a.epoch.Heard()
	case store.TopicSigningKeys:
		a.reloadSigningKeys()
	case store.TopicOutgoingLinks:
		a.outgoing.ForgetRuntime()
	default:
		a.logger.Debug("ignoring an announcement of an unknown topic", zap.String("topic", topic))
	}
}

// listening is told whether the announcements can be heard. What was
// announced while they could not is unknown, so on every change all
// caches are dropped.
func (a *App) listening(connected bool) {
	a.epoch.Heard()
	a.tokens.Deaf(!connected)
	a.outgoing.ForgetRuntime()
	if connected {
		a.reloadSigningKeys()
		a.logger.Info("hearing the other gateways' announcements")
	} else {
		a.logger.Warn("cannot hear the other gateways' announcements: cached token validations are not trusted until the connection is back",
			zap.Duration("max_stale_validation", time.Duration(a.MaxStaleValidation)))
	}
}

// reloadSigningKeys reads the signing keys again, after another gateway
// rotated them.
func (a *App) reloadSigningKeys() {
	if a.keyring == nil {
		return
	}
	if err := a.keyring.Reload(a.ctx); err != nil {
		a.logger.Warn("reloading signing keys", zap.Error(err))
	}
}

// RotateSigningKey makes a new key sign ID tokens (the old ones stay
// published until the tokens they signed expire) and tells the other
// gateways sharing the store to load it.
func (a *App) RotateSigningKey(ctx context.Context) error {
	keyring, err := a.Keyring()
	if err != nil {
		return err
	}
	if err := keyring.Rotate(ctx); err != nil {
		return err
	}
	a.announce(store.TopicSigningKeys)
	return nil
}
