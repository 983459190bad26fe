// Package units parses and formats the sizes, counts, durations and
// expiry times that the natsauth CLI accepts, with nsc's meanings.
//
// Sizes follow nsc (which uses go-humanize): the SI suffixes K, KB, M, MB,
// G, GB, T, TB, P, PB, E, EB are powers of 1000 ("1MB" is 1,000,000 bytes)
// and the IEC suffixes Ki, KiB, Mi, MiB, ... are powers of 1024 ("1MiB" is
// 1,048,576 bytes). Suffixes are case-insensitive and may follow the number
// after a space. "-1" means unlimited.
package units

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Unlimited is the value nsc and the JWT claims use for "no limit".
const Unlimited int64 = -1

// ErrSyntax is wrapped by every parse failure.
var ErrSyntax = errors.New("invalid value")

// maxInput bounds what the parsers look at, so hostile input stays cheap.
const maxInput = 64

var multipliers = map[string]int64{
	"":    1,
	"b":   1,
	"k":   1000,
	"kb":  1000,
	"ki":  1 << 10,
	"kib": 1 << 10,
	"m":   1000 * 1000,
	"mb":  1000 * 1000,
	"mi":  1 << 20,
	"mib": 1 << 20,
	"g":   1000 * 1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"gi":  1 << 30,
	"gib": 1 << 30,
	"t":   1000 * 1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"ti":  1 << 40,
	"tib": 1 << 40,
	"p":   1000 * 1000 * 1000 * 1000 * 1000,
	"pb":  1000 * 1000 * 1000 * 1000 * 1000,
	"pi":  1 << 50,
	"pib": 1 << 50,
	"e":   1000 * 1000 * 1000 * 1000 * 1000 * 1000,
	"eb":  1000 * 1000 * 1000 * 1000 * 1000 * 1000,
	"ei":  1 << 60,
	"eib": 1 << 60,
}

// ParseSize parses a byte size such as "1MB", "10GB", "512K", "1KiB",
// "1.5MB", "1024" or "-1" (unlimited). The result is a whole number of
// bytes that fits an int64; "-1" is the only negative value accepted.
func ParseSize(s string) (int64, error) {
	return parse(s, "size")
}

// ParseCount parses a count limit (connections, subscriptions, streams...)
// the way nsc does: a whole number, "-1" for unlimited, and the same
// suffixes as ParseSize ("1K" is 1000).
func ParseCount(s string) (int64, error) {
	return parse(s, "count")
}

func parse(s, what string) (int64, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("%w: empty %s", ErrSyntax, what)
	}
	if len(in) > maxInput {
		return 0, fmt.Errorf("%w: %s %.20q... is too long", ErrSyntax, what, in)
	}
	if in == "-1" {
		return Unlimited, nil
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("%w: %s %q is negative (use -1 for unlimited)", ErrSyntax, what, s)
	}
	// Split the number from the unit.
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.ToLower(strings.TrimSpace(in[i:]))
	if num == "" {
		return 0, fmt.Errorf("%w: %s %q is not a number", ErrSyntax, what, s)
	}
	mult, ok := multipliers[unit]
	if !ok {
		return 0, fmt.Errorf("%w: %s %q has an unknown unit %q (use K, M, G, T or KiB, MiB, GiB, TiB)",
			ErrSyntax, what, s, in[i:])
	}
	if num == "" || strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, fmt.Errorf("%w: %s %q is not a number", ErrSyntax, what, s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || (n != 0 && mult > math.MaxInt64/n) {
			return 0, fmt.Errorf("%w: %s %q is too large", ErrSyntax, what, s)
		}
		return n * mult, nil
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%w: %s %q is not a number", ErrSyntax, what, s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("%w: %s %q is not a whole number", ErrSyntax, what, s)
	}
	n := r.Num()
	if !n.IsInt64() {
		return 0, fmt.Errorf("%w: %s %q is too large", ErrSyntax, what, s)
	}
	return n.Int64(), nil
}

// FormatSize renders a byte limit for people: "unlimited" for negative
// values, the largest exact SI or IEC unit ("1 MB", "512 KiB", "10 GB"),
// or a plain byte count.
func FormatSize(n int64) string {
	if n < 0 {
		return "unlimited"
	}
	if n == 0 {
		return "0 B"
	}
	type unit struct {
		name string
		mult int64
	}
	for _, u := range []unit{
		{"EB", 1e18}, {"EiB", 1 << 60}, {"PB", 1e15}, {"PiB", 1 << 50}, {"TB", 1e12}, {"TiB", 1 << 40},
		{"GB", 1e9}, {"GiB", 1 << 30}, {"MB", 1e6}, {"MiB", 1 << 20}, {"KB", 1e3}, {"KiB", 1 << 10},
	} {
		if n%u.mult == 0 {
			return fmt.Sprintf("%d %s", n/u.mult, u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// FormatCount renders a count limit: "unlimited" for negative values.
func FormatCount(n int64) string {
	if n < 0 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10)
}
