package applinks

import (
	"context"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// lazyStore is the store the app's services are built on during
// Provision. It opens the backend on first use (Start, or a request that
// comes first), so that provisioning alone, as `caddy validate` does,
// opens no database and writes nothing. Every method opens the store if
// needed and calls the same method of the opened store.
type lazyStore struct {
	open func() (store.Store, error)
}

// CreateLink opens the store if needed and calls its CreateLink.
func (ls *lazyStore) CreateLink(ctx context.Context, l store.Link) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateLink(ctx, l)
}

// GetLink opens the store if needed and calls its GetLink.
func (ls *lazyStore) GetLink(ctx context.Context, id string) (store.Link, error) {
	st, err := ls.open()
	if err != nil {
		return store.Link{}, err
	}
	return st.GetLink(ctx, id)
}

// GetLinkByClientID opens the store if needed and calls its GetLinkByClientID.
func (ls *lazyStore) GetLinkByClientID(ctx context.Context, clientID string) (store.Link, error) {
	st, err := ls.open()
	if err != nil {
		return store.Link{}, err
	}
	return st.GetLinkByClientID(ctx, clientID)
}

// ListLinks opens the store if needed and calls its ListLinks.
func (ls *lazyStore) ListLinks(ctx context.Context) ([]store.Link, error) {
	st, err := ls.open()
	if err != nil {
		return nil, err
	}
	return st.ListLinks(ctx)
}

// UpdateLink opens the store if needed and calls its UpdateLink.
func (ls *lazyStore) UpdateLink(ctx context.Context, id string, fn func(*store.Link) error) (store.Link, error) {
	st, err := ls.open()
	if err != nil {
		return store.Link{}, err
	}
	return st.UpdateLink(ctx, id, fn)
}

// DeleteLink opens the store if needed and calls its DeleteLink.
func (ls *lazyStore) DeleteLink(ctx context.Context, id string) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.DeleteLink(ctx, id)
}

// CreateCode opens the store if needed and calls its CreateCode.
func (ls *lazyStore) CreateCode(ctx context.Context, c store.Code) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateCode(ctx, c)
}

// RedeemCode opens the store if needed and calls its RedeemCode.
func (ls *lazyStore) RedeemCode(ctx context.Context, codeHash []byte, fn func(store.Code) (store.Issue, error)) (store.Issue, error) {
	st, err := ls.open()
	if err != nil {
		return store.Issue{}, err
	}
	return st.RedeemCode(ctx, codeHash, fn)
}

// CreateGrant opens the store if needed and calls its CreateGrant.
func (ls *lazyStore) CreateGrant(ctx context.Context, iss store.Issue) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateGrant(ctx, iss)
}

// RotateRefresh opens the store if needed and calls its RotateRefresh.
func (ls *lazyStore) RotateRefresh(ctx context.Context, refreshHash []byte, fn func(*store.Grant, *store.Token) (store.Issue, error)) (store.Issue, error) {
	st, err := ls.open()
	if err != nil {
		return store.Issue{}, err
	}
	return st.RotateRefresh(ctx, refreshHash, fn)
}

// LookupToken opens the store if needed and calls its LookupToken.
func (ls *lazyStore) LookupToken(ctx context.Context, hash []byte) (store.Token, store.Grant, error) {
	st, err := ls.open()
	if err != nil {
		return store.Token{}, store.Grant{}, err
	}
	return st.LookupToken(ctx, hash)
}

// GetGrant opens the store if needed and calls its GetGrant.
func (ls *lazyStore) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	st, err := ls.open()
	if err != nil {
		return store.Grant{}, err
	}
	return st.GetGrant(ctx, id)
}

// ListGrants opens the store if needed and calls its ListGrants.
func (ls *lazyStore) ListGrants(ctx context.Context, filter store.GrantFilter) ([]store.Grant, error) {
	st, err := ls.open()
	if err != nil {
		return nil, err
	}
	return st.ListGrants(ctx, filter)
}

// DeleteGrant opens the store if needed and calls its DeleteGrant.
func (ls *lazyStore) DeleteGrant(ctx context.Context, id string) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.DeleteGrant(ctx, id)
}

// CreateSession opens the store if needed and calls its CreateSession.
func (ls *lazyStore) CreateSession(ctx context.Context, s store.Session) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateSession(ctx, s)
}

// GetSession opens the store if needed and calls its GetSession.
func (ls *lazyStore) GetSession(ctx context.Context, hash []byte) (store.Session, error) {
	st, err := ls.open()
	if err != nil {
		return store.Session{}, err
	}
	return st.GetSession(ctx, hash)
}

// DeleteSession opens the store if needed and calls its DeleteSession.
func (ls *lazyStore) DeleteSession(ctx context.Context, hash []byte) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.DeleteSession(ctx, hash)
}

// DeleteUserSessions opens the store if needed and calls its DeleteUserSessions.
func (ls *lazyStore) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	st, err := ls.open()
	if err != nil {
		return 0, err
	}
	return st.DeleteUserSessions(ctx, userID)
}

// PutUser opens the store if needed and calls its PutUser.
func (ls *lazyStore) PutUser(ctx context.Context, u store.User) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.PutUser(ctx, u)
}

// GetUser opens the store if needed and calls its GetUser.
func (ls *lazyStore) GetUser(ctx context.Context, name string) (store.User, error) {
	st, err := ls.open()
	if err != nil {
		return store.User{}, err
	}
	return st.GetUser(ctx, name)
}

// ListUsers opens the store if needed and calls its ListUsers.
func (ls *lazyStore) ListUsers(ctx context.Context) ([]store.User, error) {
	st, err := ls.open()
	if err != nil {
		return nil, err
	}
	return st.ListUsers(ctx)
}

// DeleteUser opens the store if needed and calls its DeleteUser.
func (ls *lazyStore) DeleteUser(ctx context.Context, name string) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.DeleteUser(ctx, name)
}

// CreateSubject opens the store if needed and calls its CreateSubject.
func (ls *lazyStore) CreateSubject(ctx context.Context, s store.Subject) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateSubject(ctx, s)
}

// PutSubject opens the store if needed and calls its PutSubject.
func (ls *lazyStore) PutSubject(ctx context.Context, s store.Subject) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.PutSubject(ctx, s)
}

// GetSubject opens the store if needed and calls its GetSubject.
func (ls *lazyStore) GetSubject(ctx context.Context, userID string) (store.Subject, error) {
	st, err := ls.open()
	if err != nil {
		return store.Subject{}, err
	}
	return st.GetSubject(ctx, userID)
}

// DeleteSubject opens the store if needed and calls its DeleteSubject.
func (ls *lazyStore) DeleteSubject(ctx context.Context, userID string) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.DeleteSubject(ctx, userID)
}

// PutSigningKey opens the store if needed and calls its PutSigningKey.
func (ls *lazyStore) PutSigningKey(ctx context.Context, k store.SigningKey) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.PutSigningKey(ctx, k)
}

// ListSigningKeys opens the store if needed and calls its ListSigningKeys.
func (ls *lazyStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	st, err := ls.open()
	if err != nil {
		return nil, err
	}
	return st.ListSigningKeys(ctx)
}

// DeleteSigningKey opens the store if needed and calls its DeleteSigningKey.
func (ls *lazyStore) DeleteSigningKey(ctx context.Context, id string) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.DeleteSigningKey(ctx, id)
}

// UpdateSigningKey opens the store if needed and calls its UpdateSigningKey.
func (ls *lazyStore) UpdateSigningKey(ctx context.Context, id string, fn func(*store.SigningKey) error) (store.SigningKey, error) {
	st, err := ls.open()
	if err != nil {
		return store.SigningKey{}, err
	}
	return st.UpdateSigningKey(ctx, id, fn)
}

// CreatePending opens the store if needed and calls its CreatePending.
func (ls *lazyStore) CreatePending(ctx context.Context, p store.Pending) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreatePending(ctx, p)
}

// TakePending opens the store if needed and calls its TakePending.
func (ls *lazyStore) TakePending(ctx context.Context, stateHash []byte) (store.Pending, error) {
	st, err := ls.open()
	if err != nil {
		return store.Pending{}, err
	}
	return st.TakePending(ctx, stateHash)
}

// PutConnection opens the store if needed and calls its PutConnection.
func (ls *lazyStore) PutConnection(ctx context.Context, c store.Connection) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.PutConnection(ctx, c)
}

// GetConnection opens the store if needed and calls its GetConnection.
func (ls *lazyStore) GetConnection(ctx context.Context, linkID, userID string) (store.Connection, error) {
	st, err := ls.open()
	if err != nil {
		return store.Connection{}, err
	}
	return st.GetConnection(ctx, linkID, userID)
}

// UpdateConnection opens the store if needed and calls its UpdateConnection.
func (ls *lazyStore) UpdateConnection(ctx context.Context, linkID, userID string, fn func(*store.Connection) error) (store.Connection, error) {
	st, err := ls.open()
	if err != nil {
		return store.Connection{}, err
	}
	return st.UpdateConnection(ctx, linkID, userID, fn)
}

// ListConnections opens the store if needed and calls its ListConnections.
func (ls *lazyStore) ListConnections(ctx context.Context, filter store.ConnectionFilter) ([]store.Connection, error) {
	st, err := ls.open()
	if err != nil {
		return nil, err
	}
	return st.ListConnections(ctx, filter)
}

// DeleteConnection opens the store if needed and calls its DeleteConnection.
func (ls *lazyStore) DeleteConnection(ctx context.Context, linkID, userID string) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.DeleteConnection(ctx, linkID, userID)
}

// CreateOutgoingLink opens the store if needed and calls its CreateOutgoingLink.
func (ls *lazyStore) CreateOutgoingLink(ctx context.Context, l store.OutgoingLink) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateOutgoingLink(ctx, l)
}

// GetOutgoingLink opens the store if needed and calls its GetOutgoingLink.
func (ls *lazyStore) GetOutgoingLink(ctx context.Context, name string) (store.OutgoingLink, error) {
	st, err := ls.open()
	if err != nil {
		return store.OutgoingLink{}, err
	}
	return st.GetOutgoingLink(ctx, name)
}

// ListOutgoingLinks opens the store if needed and calls its ListOutgoingLinks.
func (ls *lazyStore) ListOutgoingLinks(ctx context.Context) ([]store.OutgoingLink, error) {
	st, err := ls.open()
	if err != nil {
		return nil, err
	}
	return st.ListOutgoingLinks(ctx)
}

// UpdateOutgoingLink opens the store if needed and calls its UpdateOutgoingLink.
func (ls *lazyStore) UpdateOutgoingLink(ctx context.Context, name string, fn func(*store.OutgoingLink) error) (store.OutgoingLink, error) {
	st, err := ls.open()
	if err != nil {
		return store.OutgoingLink{}, err
	}
	return st.UpdateOutgoingLink(ctx, name, fn)
}

// DeleteOutgoingLink opens the store if needed and calls its DeleteOutgoingLink.
func (ls *lazyStore) DeleteOutgoingLink(ctx context.Context, name string) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.DeleteOutgoingLink(ctx, name)
}

// CreateKeyCheck opens the store if needed and calls its CreateKeyCheck.
func (ls *lazyStore) CreateKeyCheck(ctx context.Context, c store.KeyCheck) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateKeyCheck(ctx, c)
}

// GetKeyCheck opens the store if needed and calls its GetKeyCheck.
func (ls *lazyStore) GetKeyCheck(ctx context.Context) (store.KeyCheck, error) {
	st, err := ls.open()
	if err != nil {
		return store.KeyCheck{}, err
	}
	return st.GetKeyCheck(ctx)
}

// UpdateKeyCheck opens the store if needed and calls its UpdateKeyCheck.
func (ls *lazyStore) UpdateKeyCheck(ctx context.Context, fn func(*store.KeyCheck) error) (store.KeyCheck, error) {
	st, err := ls.open()
	if err != nil {
		return store.KeyCheck{}, err
	}
	return st.UpdateKeyCheck(ctx, fn)
}

// UpdateUser opens the store if needed and calls its UpdateUser.
func (ls *lazyStore) UpdateUser(ctx context.Context, name string, fn func(*store.User, bool) error) (store.User, error) {
	st, err := ls.open()
	if err != nil {
		return store.User{}, err
	}
	return st.UpdateUser(ctx, name, fn)
}

// GarbageCollect opens the store if needed and calls its GarbageCollect.
func (ls *lazyStore) GarbageCollect(ctx context.Context, now time.Time) (int, error) {
	st, err := ls.open()
	if err != nil {
		return 0, err
	}
	return st.GarbageCollect(ctx, now)
}

// Interface guards
var _ store.Store = (*lazyStore)(nil)
