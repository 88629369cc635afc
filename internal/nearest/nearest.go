// Package nearest finds the valid word closest to a mistyped one, for
// configuration errors that suggest what was meant.
package nearest

import (
	"strings"
	"unicode/utf8"
)

// Word returns the word of valid nearest to word (case-insensitive edit
// distance), or "" when none is near enough to be a likely typo: at most
// one edit for words of up to four letters, two up to eight, three beyond.
func Word(word string, valid []string) string {
	limit := 3
	switch n := utf8.RuneCountInString(word); {
	case n <= 4:
		limit = 1
	case n <= 8:
		limit = 2
	}
	best, bestDist := "", limit+1
	w := []rune(strings.ToLower(word))
	for _, v := range valid {
		if d := distance(w, []rune(strings.ToLower(v))); d < bestDist {
			best, bestDist = v, d
		}
	}
	return best
}

// Suggest returns ` (did you mean "x"?)` for the valid word nearest to
// word, or "" when there is none (see Word).
func Suggest(word string, valid []string) string {
	if w := Word(word, valid); w != "" {
		return ` (did you mean "` + w + `"?)`
	}
	return ""
}

// distance is the Damerau-Levenshtein (optimal string alignment) distance
// of a and b: insertions, deletions, substitutions and swaps of two
// neighbours count one each.
func distance(a, b []rune) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
