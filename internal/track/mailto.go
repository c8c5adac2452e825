package track

import "strings"

// unsubscribePrefix begins the local part of an unsubscribe address:
// unsubscribe+TOKEN@domain.
const unsubscribePrefix = "unsubscribe+"

// maxTokenLen bounds what ParseUnsubscribeAddress accepts: the longest token
// Sign makes (purpose, three 9-byte varints for IDs up to 2^62, the MAC) is
// 59 characters.
const maxTokenLen = 64

// UnsubscribeAddress returns unsubscribe+TOKEN@domain, the address whose mail
// unsubscribes the customer that token (signed with PurposeUnsubscribe)
// names; the inbound package receives it.
//
// The token goes in unchanged, with no second encoding: it is base64url
// without padding (A–Z, a–z, 0–9, '-' and '_'), all RFC 5322 atext
// characters and none of them a dot, so unsubscribe+TOKEN is a plain
// dot-atom that SMTP carries unquoted and a mailto: URI carries unescaped
// (RFC 6068). For IDs below 2^49 the local part is at most 64 octets
// (RFC 5321 4.5.3.1.1). A local part is case-sensitive (RFC 5321 2.4), and
// so is the token: a relay that lowercased it would make it fail to verify.
func UnsubscribeAddress(domain, token string) string {
	return unsubscribePrefix + token + "@" + domain
}

// MailtoUnsubscribe returns the mailto: URI for the List-Unsubscribe header:
// mailto:unsubscribe+TOKEN@domain?subject=unsubscribe.
func MailtoUnsubscribe(domain, token string) string {
	return "mailto:" + UnsubscribeAddress(domain, token) + "?subject=unsubscribe"
}

// ParseUnsubscribeAddress returns the token in addr when addr is
// unsubscribe+TOKEN@domain: the prefix and the domain in any case, the token
// non-empty, at most 64 characters and only from the base64url alphabet. It
// returns "", false for anything else, and does not check the token's
// signature (Verify does).
func ParseUnsubscribeAddress(addr, domain string) (token string, ok bool) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || domain == "" || !asciiEqualFold(addr[at+1:], domain) {
		return "", false
	}
	local := addr[:at]
	if len(local) <= len(unsubscribePrefix) || !asciiEqualFold(local[:len(unsubscribePrefix)], unsubscribePrefix) {
		return "", false
	}
	token = local[len(unsubscribePrefix):]
	if len(token) > maxTokenLen {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return token, true
}

// asciiEqualFold is strings.EqualFold for ASCII letters only: Unicode
// folding would also match, say, the Kelvin sign to 'k' in a domain.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
