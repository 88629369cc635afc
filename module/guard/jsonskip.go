package guard

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The skipping here reads a value 64 bytes at a time: it finds the quotes,
// backslashes and brackets of each eight bytes with a few arithmetic
// operations on a word (SWAR, SIMD within a register) and gathers them into
// masks of one bit per byte. Which quotes are escaped and which bytes lie
// in strings then follow from the masks alone, as in simdjson's first
// stage, so the cost per byte hardly depends on how dense the escapes and
// strings are; only brackets are handled one by one. A block all in one
// string is not searched for brackets, and one without quotes hands the
// rest of its string to bytes.IndexByte.

// Words of eight bytes, each repeating one byte.
const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	lows        = 0x7f7f7f7f7f7f7f7f
	quotes      = ones * '"'
	backslashes = ones * '\\'
	// bracketBits sets the bits in which '{', '}', '[' and ']' differ: with
	// them set, the four (and 'Y', '_', 'y', DEL) are 0x7f.
	bracketBits = ones * 0x26
)

// spaces fill the bytes of a block past the end of a body.
const spaces = "                                                                "

// classify returns masks of the quotes and backslashes in blk, bit k for
// blk[k], and if brackets is set of the bytes that may be brackets (all
// brackets, and 'Y', '_', 'y' and DEL).
func classify(blk *[64]byte, brackets bool) (q, bs, br uint64) {
	// Each word's test sets the high bit of the bytes it does not find.
	// Shifted in from the top, bit 8j+k of the gathered masks is byte j of
	// word k; transposing them puts it at bit 8k+j.
	q, bs, br = gather(q, bs, br, binary.LittleEndian.Uint64(blk[0:]), brackets)
	q, bs, br = gather(q, bs, br, binary.LittleEndian.Uint64(blk[8:]), brackets)
	q, bs, br = gather(q, bs, br, binary.LittleEndian.Uint64(blk[16:]), brackets)
	q, bs, br = gather(q, bs, br, binary.LittleEndian.Uint64(blk[24:]), brackets)
	q, bs, br = gather(q, bs, br, binary.LittleEndian.Uint64(blk[32:]), brackets)
	q, bs, br = gather(q, bs, br, binary.LittleEndian.Uint64(blk[40:]), brackets)
	q, bs, br = gather(q, bs, br, binary.LittleEndian.Uint64(blk[48:]), brackets)
	q, bs, br = gather(q, bs, br, binary.LittleEndian.Uint64(blk[56:]), brackets)
	if q = ^q; q != 0 {
		q = transpose(q)
	}
	if bs = ^bs; bs != 0 {
		bs = transpose(bs)
	}
	if br = ^br; br != 0 && brackets {
		return q, bs, transpose(br)
	}
	return q, bs, 0
}

// gather shifts the masks of classify by one and adds the high bits of
// the bytes of w that are not a quote, not a backslash, not a possible
// bracket: adding lows to a byte's low seven bits sets its high bit unless
// they are zero, and carries into no other byte.
func gather(q, bs, br, w uint64, brackets bool) (uint64, uint64, uint64) {
	wl := w & lows
	q = q>>1 | (wl^quotes+lows|w)&highs
	bs = bs>>1 | (wl^backslashes+lows|w)&highs
	if brackets {
		br = br>>1 | (wl|bracketBits^lows+lows|w)&highs
	}
	return q, bs, br
}

// transpose transposes x as a matrix of 8×8 bits, bit 8r+c its row r and
// column c. (Hacker's Delight, 7–3.)
func transpose(x uint64) uint64 {
	t := (x ^ x>>7) & 0x00aa00aa00aa00aa
	x ^= t ^ t<<7
	t = (x ^ x>>14) & 0x0000cccc0000cccc
	x ^= t ^ t<<14
	t = (x ^ x>>28) & 0x00000000f0f0f0f0
	return x ^ t ^ t<<28
}

// escapes returns the mask of the bytes that backslashes escape, given the
// backslashes bs and whether the first byte is escaped by backslashes
// before it, and whether the byte after the last is escaped. A run of
// backslashes escapes every second of its own and, when its length is odd,
// the byte after it. (simdjson's find_escaped.)
func escapes(bs, first uint64) (esc, next uint64) {
	const even = 0x5555555555555555
	bs &^= first
	follows := bs<<1 | first
	oddStarts := bs &^ even &^ follows
	sum, next := bits.Add64(oddStarts, bs, 0)
	return (even ^ sum<<1) & follows, next
}

// inStrings returns the mask of the bytes from each opening quote up to,
// not including, its closing quote, given the unescaped quotes q.
func inStrings(q uint64) uint64 {
	q ^= q << 1
	q ^= q << 2
	q ^= q << 4
	q ^= q << 8
	q ^= q << 16
	return q ^ q<<32
}

// escaped reports whether an odd number of backslashes precede b[i]: in a
// string, whether b[i] is escaped.
func escaped(b []byte, i int) uint64 {
	k := i
	for k > 0 && b[k-1] == '\\' {
		k--
	}
	return uint64(i-k) & 1
}

// valueEnd returns the index just past the string, object or array at
// b[i], or -1 when a string is not closed, brackets do not nest, a
// backslash is outside strings or nesting is deeper than maxRPCDepth.
func valueEnd(b []byte, i int) int {
	if b[i] == '"' && i+9 <= len(b) {
		// A short string without escapes, as names and most values are:
		// the first quote of the word after the opening one closes it if
		// no backslash is before it. The lowest high bit of each mask is
		// exact.
		w := binary.LittleEndian.Uint64(b[i+1:])
		q := (w ^ quotes - ones) &^ (w ^ quotes) & highs
		bs := (w ^ backslashes - ones) &^ (w ^ backslashes) & highs
		if q != 0 && bs&(q&-q-1) == 0 {
			return i + bits.TrailingZeros64(q)>>3 + 2
		}
	}
	var (
		tail [64]byte
		// The containers open, a bit each, set for an object ('{' and
		// '}' have bit 5 set, '[' and ']' do not): the innermost 64 in
		// open, the innermost at bit 0, those outside them in outer.
		open     uint64
		outer    [maxRPCDepth/64 - 1]uint64
		depth    int
		isString = b[i] == '"'
		inString uint64 // all ones when a string is open at b[i]
		esc      uint64 // whether b[i] is escaped
		long     bool   // whether the last block was all in strings
	)
	for i < len(b) {
		blk := &tail
		if len(b)-i >= 64 {
			blk = (*[64]byte)(b[i:])
		} else {
			copy(tail[copy(tail[:], b[i:]):], spaces)
		}
		// Brackets matter in a container unless the block is all in one
		// long string, as the last one was: then they are looked for only
		// when it ends.
		q, bs, br := classify(blk, !isString && !long)
		if q == 0 && inString != 0 {
			// All 64 bytes are in one long string: IndexByte finds its end
			// faster.
			j := bytes.IndexByte(b[min(i+64, len(b)):], '"')
			if j < 0 {
				return -1
			}
			i = min(i+64, len(b)) + j
			esc, long = escaped(b, i), false
			continue
		}
		if bs|esc != 0 {
			var e uint64
			e, esc = escapes(bs, esc)
			q &^= e
		}
		str := inStrings(q) ^ inString
		if bs&^str != 0 {
			return -1
		}
		inString = uint64(int64(str) >> 63)
		if isString {
			if closing := q &^ str; closing != 0 {
				return i + bits.TrailingZeros64(closing) + 1
			}
			i += 64
			continue
		}
		if str == ^uint64(0) {
			i, long = i+64, true
			continue
		}
		if long {
			_, _, br = classify(blk, true)
			long = false
		}
		for br &^= str; br != 0; br &= br - 1 {
			k := bits.TrailingZeros64(br)
			c := blk[k]
			obj := uint64(c >> 5 & 1)
			switch c | 0x20 { // '[' is '{' and ']' '}' with bit 5 set
			case '{':
				if depth&63 == 0 && depth > 0 {
					if depth == maxRPCDepth {
						return -1
					}
					outer[depth>>6-1], open = open, 0
				}
				open = open<<1 | obj
				depth++
			case '}':
				if open&1 != obj {
					return -1
				}
				open >>= 1
				if depth--; depth&63 == 0 {
					if depth == 0 {
						return i + k + 1
					}
					open = outer[depth>>6-1]
				}
			}
		}
		i += 64
	}
	return -1
}
