package shop

import (
	"fmt"
	"strings"
)

// minorDigits lists the ISO 4217 currencies whose minor unit is not 1/100.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// MinorDigits returns how many decimal digits the currency's minor unit has.
func MinorDigits(currency string) int {
	if d, ok := minorDigits[strings.ToUpper(currency)]; ok {
		return d
	}
	return 2
}

// ParseMinor turns a decimal amount such as "199.00", "-3.5" or "12" into
// minor units of currency, exactly (no float64). Extra decimal digits beyond
// the currency's minor unit are rounded half away from zero.
func ParseMinor(amount, currency string) (int64, error) {
	s := strings.TrimSpace(amount)
	if s == "" {
		return 0, fmt.Errorf("parse amount: empty")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("parse amount %q: no digits", amount)
	}
	digits := MinorDigits(currency)
	var v int64
	for _, c := range whole {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("parse amount %q: not a decimal number", amount)
		}
		if v > (1<<62)/10 {
			return 0, fmt.Errorf("parse amount %q: too large", amount)
		}
		v = v*10 + int64(c-'0')
	}
	for i := 0; i < digits; i++ {
		if v > (1<<62)/10 {
			return 0, fmt.Errorf("parse amount %q: too large", amount)
		}
		v *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("parse amount %q: not a decimal number", amount)
			}
			v += int64(c - '0')
		}
	}
	if len(frac) > digits {
		for _, c := range frac[digits:] {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("parse amount %q: not a decimal number", amount)
			}
		}
		if frac[digits] >= '5' {
			v++
		}
	}
	if neg {
		v = -v
	}
	return v, nil
}

// NormalizeEmail trims and lower-cases an address so that one person is one
// customer whatever the store sends. It returns "" for something that is
// plainly not an address.
func NormalizeEmail(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n<>,;") {
		return ""
	}
	return e
}

// FormatMinor writes minor units as a plain decimal with the currency code,
// e.g. "12.50 GBP", for operators (emails use locale-aware formatting).
func FormatMinor(minor int64, currency string) string {
	d := MinorDigits(currency)
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	if d == 0 {
		return fmt.Sprintf("%s%d %s", sign, minor, currency)
	}
	pow := int64(1)
	for range d {
		pow *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, minor/pow, d, minor%pow, currency)
}
