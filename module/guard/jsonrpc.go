package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// rpcMessage is what the guard reads of one JSON-RPC message: its method
// (none for a response) and, for tools/call, the tool's name.
type rpcMessage struct {
	method    []byte
	hasMethod bool
	tool      []byte
}

// Errors of scanRPC: a body that is not JSON (JSON-RPC's parse error), or
// JSON that is no message or batch of messages (invalid request), or a
// message the guard cannot read one way only.
var (
	errRPCParse   = errors.New("the body is not valid JSON")
	errRPCRequest = errors.New("the body is not a JSON-RPC message or batch")
	errRPCTwice   = errors.New("a JSON-RPC message names its method, params or tool name twice")
)

// maxRPCDepth bounds the nesting of a value the scan skips; valueEnd
// needs a multiple of 64.
const maxRPCDepth = 512

// scanRPC calls fn for each message of a JSON-RPC body (one message or a
// batch). It reads only the members that decide the scope a message
// needs and skips the rest without decoding it, so it costs little more
// than a pass over the bytes. Member names match as case-insensitively as
// encoding/json matches them, escapes decoded, and a message naming one of
// them twice is refused: another reader might take the other one. Values
// it skips are checked for structure only (strings close, brackets nest,
// no backslash outside strings); the upstream refuses malformed scalars.
func scanRPC(body []byte, fn func(rpcMessage)) error {
	s := rpcScanner{b: body}
	s.ws()
	if s.i >= len(s.b) {
		return errRPCParse
	}
	switch s.b[s.i] {
	case '{':
		m, err := s.message()
		if err != nil {
			return err
		}
		fn(m)
	case '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			return errRPCRequest // an empty batch
		}
		for {
			s.ws()
			if s.peek() != '{' {
				if err := s.skip(); err != nil {
					return err
				}
				return errRPCRequest
			}
			m, err := s.message()
			if err != nil {
				return err
			}
			fn(m)
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				continue
			case ']':
				s.i++
			default:
				return errRPCParse
			}
			break
		}
	default:
		if err := s.skip(); err != nil {
			return err
		}
		return errRPCRequest
	}
	s.ws()
	if s.i != len(s.b) {
		return errRPCParse
	}
	return nil
}

type rpcScanner struct {
	b []byte
	i int
}

func (s *rpcScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *rpcScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// message reads one message object, at '{'. The tool name of tools/call
// is read in the same pass as params, whether the method comes before
// params or after.
func (s *rpcScanner) message() (rpcMessage, error) {
	var (
		m         rpcMessage
		hasParams bool
		tool      []byte
		toolTwice bool
	)
	err := s.object(func(key []byte) error {
		switch {
		case foldEq(key, "method"):
			if m.hasMethod {
				return errRPCTwice
			}
			m.hasMethod = true
			v, ok, err := s.stringValue()
			if err != nil {
				return err
			}
			if !ok {
				return errRPCRequest
			}
			m.method = v
		case foldEq(key, "params"):
			if hasParams {
				return errRPCTwice
			}
			hasParams = true
			if s.peek() == '{' && (!m.hasMethod || string(m.method) == "tools/call") {
				var err error
				tool, toolTwice, err = s.toolName()
				return err
			}
			return s.skip()
		default:
			return s.skip()
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	if string(m.method) == "tools/call" {
		if toolTwice {
			return m, errRPCTwice
		}
		m.tool = tool
	}
	return m, nil
}

// toolName reads a params object, at '{', and returns the tool's name (""
// when it has none that is a string) and whether it names one twice.
func (s *rpcScanner) toolName() (name []byte, twice bool, err error) {
	var seen bool
	err = s.object(func(key []byte) error {
		if !foldEq(key, "name") {
			return s.skip()
		}
		if seen {
			twice = true
			return s.skip()
		}
		seen = true
		v, ok, err := s.stringValue()
		if ok {
			name = v
		}
		return err
	})
	return name, twice, err
}

// object reads an object at '{', calling member for each member name with
// the scanner at its value, which member must consume.
func (s *rpcScanner) object(member func(key []byte) error) error {
	if s.peek() != '{' {
		return errRPCParse
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.peek() != '"' {
			return errRPCParse
		}
		key, err := s.decodedString()
		if err != nil {
			return err
		}
		s.ws()
		if s.peek() != ':' {
			return errRPCParse
		}
		s.i++
		s.ws()
		if err := member(key); err != nil {
			return err
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errRPCParse
		}
	}
}

// stringValue reads a value that should be a string: ok is false (and the
// value skipped) when it is another kind of value.
func (s *rpcScanner) stringValue() (v []byte, ok bool, err error) {
	if s.peek() != '"' {
		return nil, false, s.skip()
	}
	v, err = s.decodedString()
	return v, err == nil, err
}

// decodedString reads a string at '"' and returns its value as
// encoding/json decodes it (escapes, and invalid UTF-8 as U+FFFD).
func (s *rpcScanner) decodedString() ([]byte, error) {
	raw, esc, err := s.str()
	if err != nil || !esc && utf8.Valid(raw) {
		return raw, err
	}
	var v string
	if err := json.Unmarshal(s.b[s.i-len(raw)-2:s.i], &v); err != nil {
		return nil, errRPCParse
	}
	return []byte(v), nil
}

// str skips a string at '"' and returns its raw content and whether it
// holds escapes.
func (s *rpcScanner) str() (raw []byte, esc bool, err error) {
	end := valueEnd(s.b, s.i)
	if end < 0 {
		return nil, false, errRPCParse
	}
	raw = s.b[s.i+1 : end-1]
	s.i = end
	return raw, bytes.IndexByte(raw, '\\') >= 0, nil
}

// skip skips one value, checking that brackets and strings nest.
func (s *rpcScanner) skip() error {
	s.ws()
	switch c := s.peek(); c {
	case '"', '{', '[':
		end := valueEnd(s.b, s.i)
		if end < 0 {
			return errRPCParse
		}
		s.i = end
		return nil
	case 0, ',', ':', '}', ']':
		return errRPCParse
	default:
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r', ':', '"', '{', '[':
				if s.i == start {
					return errRPCParse
				}
				return nil
			}
			s.i++
		}
		return nil
	}
}

// foldEq reports whether a member name matches name as encoding/json
// matches a field name: exactly, or under Unicode case folding.
func foldEq(key []byte, name string) bool {
	if len(key) == len(name) && string(key) == name {
		return true
	}
	return len(key) <= 3*len(name) && bytes.EqualFold(key, []byte(name))
}
