package store

import (
	"context"
	"errors"
	"fmt"
)

// Record is one record of a store, as Copier.Export gives it and
// Copier.Import takes it: exactly one field is set.
type Record struct {
	Link         *Link
	OutgoingLink *OutgoingLink
	User         *User
	Subject      *Subject
	SigningKey   *SigningKey
	KeyCheck     *KeyCheck
	// ConsumerIdentity is the gateway's OAuth 1.0a consumer identity.
	ConsumerIdentity *ConsumerIdentity
	Grant            *Grant
	Token            *Token
	Code             *Code
	Session          *Session
	Pending          *Pending
	Connection       *Connection
}

// Kind names the record's kind, for people: "link", "grant", "token"….
func (r Record) Kind() string {
	switch {
	case r.Link != nil:
		return "link"
	case r.OutgoingLink != nil:
		return "outgoing link"
	case r.User != nil:
		return "user"
	case r.Subject != nil:
		return "subject"
	case r.SigningKey != nil:
		return "signing key"
	case r.KeyCheck != nil:
		return "key check"
	case r.ConsumerIdentity != nil:
		return "consumer identity"
	case r.Grant != nil:
		return "grant"
	case r.Token != nil:
		return "token"
	case r.Code != nil:
		return "code"
	case r.Session != nil:
		return "session"
	case r.Pending != nil:
		return "pending authorization"
	case r.Connection != nil:
		return "connection"
	}
	return ""
}

// Copier is implemented by backends whose records can all be read out and
// written in as they are, to move a gateway from one backend to another
// (`caddy applinks migrate-store`). Records keep their ids, hashes, sealed
// values and times, so the same at-rest key opens them.
type Copier interface {
	// Export calls fn with every live record, in the order Import needs
	// them: links, outgoing links, users, subjects, signing keys, the key
	// check and the consumer identity before grants, grants before their
	// tokens, outgoing links before their connections. An error from fn
	// stops it and is returned. OAuth 1.0a request tokens and nonces are
	// not exported: both are worthless minutes after they were written (a
	// consumer asks for a new request token; a nonce only guards its
	// timestamp's window, which a migration outlasts).
	Export(ctx context.Context, fn func(Record) error) error
	// ImportGrant writes a grant as it is (its generation and expiry
	// unchanged), replacing one of the same id; ImportToken writes a token
	// as it is, whose grant was imported before. The other records go in
	// through the Store's own methods (see Import).
	ImportGrant(ctx context.Context, g Grant) error
	ImportToken(ctx context.Context, t Token) error
}

// Import writes one record into s as it is: ids, hashes, sealed values and
// times unchanged; links, outgoing links, the key check and the consumer
// identity must be new (ErrAlreadyExists otherwise), other records replace
// one of the same key.
func Import(ctx context.Context, s interface {
	Store
	Copier
}, r Record) error {
	switch {
	case r.Link != nil:
		return s.CreateLink(ctx, *r.Link)
	case r.OutgoingLink != nil:
		return s.CreateOutgoingLink(ctx, *r.OutgoingLink)
	case r.User != nil:
		return s.PutUser(ctx, *r.User)
	case r.Subject != nil:
		return s.PutSubject(ctx, *r.Subject)
	case r.SigningKey != nil:
		return s.PutSigningKey(ctx, *r.SigningKey)
	case r.KeyCheck != nil:
		return s.CreateKeyCheck(ctx, *r.KeyCheck)
	case r.ConsumerIdentity != nil:
		return s.CreateConsumerIdentity(ctx, *r.ConsumerIdentity)
	case r.Grant != nil:
		return s.ImportGrant(ctx, *r.Grant)
	case r.Token != nil:
		return s.ImportToken(ctx, *r.Token)
	case r.Code != nil:
		return s.CreateCode(ctx, *r.Code)
	case r.Session != nil:
		return s.CreateSession(ctx, *r.Session)
	case r.Pending != nil:
		return s.CreatePending(ctx, *r.Pending)
	case r.Connection != nil:
		return s.PutConnection(ctx, *r.Connection)
	}
	return errors.New("importing an empty record")
}

// ErrNotEmpty means the store a copy would go to already holds a gateway's
// state.
var ErrNotEmpty = errors.New("the target store is not empty")

// Copy writes every record of from into to and returns how many of each
// kind it copied. It refuses (ErrNotEmpty) when to already holds a key
// check, links or users: a copy is made into a new store, while the
// gateway using from is stopped.
func Copy(ctx context.Context, from, to Store) (map[string]int, error) {
	src, ok := from.(Copier)
	if !ok {
		return nil, fmt.Errorf("the source store (%T) cannot be exported", from)
	}
	dst, ok := to.(interface {
		Store
		Copier
	})
	if !ok {
		return nil, fmt.Errorf("the target store (%T) cannot be imported into", to)
	}
	if err := CheckEmpty(ctx, to); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	err := src.Export(ctx, func(r Record) error {
		if err := Import(ctx, dst, r); err != nil {
			return fmt.Errorf("importing a %s: %w", r.Kind(), err)
		}
		counts[r.Kind()]++
		return nil
	})
	if err != nil {
		return counts, err
	}
	return counts, nil
}

// CheckEmpty fails with ErrNotEmpty when s holds a key check, a link or a
// user.
func CheckEmpty(ctx context.Context, s Store) error {
	if _, err := s.GetKeyCheck(ctx); err == nil {
		return fmt.Errorf("%w: it holds an at-rest key check", ErrNotEmpty)
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("reading the target's key check: %w", err)
	}
	ls, err := s.ListLinks(ctx)
	if err != nil {
		return fmt.Errorf("listing the target's links: %w", err)
	}
	us, err := s.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("listing the target's users: %w", err)
	}
	if len(ls) > 0 || len(us) > 0 {
		return fmt.Errorf("%w: it holds %d links and %d users", ErrNotEmpty, len(ls), len(us))
	}
	return nil
}
