package mailer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net"
	netmail "net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wneessen/go-mail"
)

// Message is one email to one recipient, already rendered.
type Message struct {
	// From and To are RFC 5322 addresses, optionally with a display name:
	// "Gift Shop <shop@example.com>".
	From, To string
	// Subject is plain text; non-ASCII is encoded (RFC 2047).
	Subject string
	// Text and HTML are the two bodies. With both, the message is
	// multipart/alternative with the text part first. At least one is needed.
	Text, HTML string
	// MessageID is "<id@domain>" or "id@domain" and is used exactly; empty
	// generates a random one at the From domain. Result.MessageID returns it.
	MessageID string
	// ListUnsubscribeURL is the https one-click unsubscribe URL (RFC 8058);
	// setting it also sets List-Unsubscribe-Post: List-Unsubscribe=One-Click.
	ListUnsubscribeURL string
	// ListUnsubscribeMailto is a "mailto:" URI added to List-Unsubscribe.
	ListUnsubscribeMailto string
	// ListID is "Gift Shop <gifts.remarket.example>" or just the id (RFC 2919).
	ListID string
	// Headers are extra headers such as X-Remarket-Campaign. Headers the
	// mailer sets itself and address headers are refused.
	Headers map[string]string
	// Date is the Date header; zero means the time of building.
	Date time.Time
}

// maxHeaderValue keeps every header line well under RFC 5322's 998 octets.
const maxHeaderValue = 900

// reservedHeaders are set by build and cannot come in Message.Headers.
var reservedHeaders = []string{
	"subject", "date", "message-id", "mime-version", "content-type",
	"content-transfer-encoding", "content-disposition", "list-unsubscribe",
	"list-unsubscribe-post", "list-id", "sender", "return-path", "received",
	"dkim-signature", "from", "to", "cc", "bcc", "reply-to",
}

// WriteEML writes the message exactly as Send would transmit it to a server
// that takes 8BITMIME, as nearly all do (an .eml file), for previews. It
// fails with ErrInvalidMessage like Send.
func WriteEML(w io.Writer, msg Message) error {
	m, _, err := build(msg, time.Now())
	if err != nil {
		return err
	}
	setEightBit(m, fitsEightBit(msg.Text) && fitsEightBit(msg.HTML))
	// Unencoded bodies keep their LF line ends until the SMTP client turns
	// them into CRLF; do the same here, so the file is byte for byte the
	// message.
	if _, err := m.WriteTo(&crlfWriter{w: w}); err != nil {
		return fmt.Errorf("write eml: %w", err)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidMessage}, args...)...)
}

// build validates msg and turns it into a go-mail message. It returns the
// Message-ID as written in the header ("<id@domain>"). Errors wrap
// ErrInvalidMessage and never quote an address.
func build(msg Message, now time.Time) (*mail.Msg, string, error) {
	for _, f := range []struct{ name, v string }{
		{"From", msg.From}, {"To", msg.To}, {"Subject", msg.Subject},
		{"MessageID", msg.MessageID}, {"ListUnsubscribeURL", msg.ListUnsubscribeURL},
		{"ListUnsubscribeMailto", msg.ListUnsubscribeMailto}, {"ListID", msg.ListID},
	} {
		if err := checkHeaderValue(f.name, f.v); err != nil {
			return nil, "", err
		}
	}
	from, err := parseAddress("From", msg.From)
	if err != nil {
		return nil, "", err
	}
	to, err := parseAddress("To", msg.To)
	if err != nil {
		return nil, "", err
	}
	if strings.TrimSpace(msg.Subject) == "" {
		return nil, "", invalid("Subject is empty")
	}
	if len(msg.Subject) > maxHeaderValue {
		return nil, "", invalid("Subject is longer than %d bytes", maxHeaderValue)
	}
	if msg.Text == "" && msg.HTML == "" {
		return nil, "", invalid("both Text and HTML are empty")
	}
	if !utf8.ValidString(msg.Text) {
		return nil, "", invalid("Text is not valid UTF-8")
	}
	if !utf8.ValidString(msg.HTML) {
		return nil, "", invalid("HTML is not valid UTF-8")
	}
	id := msg.MessageID
	if id == "" {
		id = newMessageID(from.Address)
	}
	idInner, err := messageIDInner(id)
	if err != nil {
		return nil, "", err
	}

	m := mail.NewMsg(mail.WithCharset(mail.CharsetUTF8), mail.WithEncoding(mail.EncodingQP),
		mail.WithNoDefaultUserAgent())
	m.SetAddrHeaderFromMailAddress(mail.HeaderFrom, from)
	m.SetAddrHeaderFromMailAddress(mail.HeaderTo, to)
	m.Subject(msg.Subject)
	m.SetMessageIDWithValue(idInner)
	date := msg.Date
	if date.IsZero() {
		date = now
	}
	m.SetDateWithValue(date)

	if err := setUnsubscribe(m, msg.ListUnsubscribeURL, msg.ListUnsubscribeMailto); err != nil {
		return nil, "", err
	}
	if msg.ListID != "" {
		v, err := listIDValue(msg.ListID)
		if err != nil {
			return nil, "", err
		}
		m.SetGenHeaderPreformatted("List-Id", v)
	}
	keys := make([]string, 0, len(msg.Headers))
	for k := range msg.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := msg.Headers[k]
		if err := checkHeaderName(k); err != nil {
			return nil, "", err
		}
		if err := checkHeaderValue("header "+k, v); err != nil {
			return nil, "", err
		}
		if len(v) > maxHeaderValue {
			return nil, "", invalid("header %s is longer than %d bytes", k, maxHeaderValue)
		}
		m.SetGenHeader(mail.Header(k), v)
	}

	// Text first, then HTML: parts go out in call order and clients show
	// the last alternative they understand.
	// The writers hand go-mail the strings as they are; its *String
	// setters copy each body into a new buffer first.
	switch {
	case msg.Text != "" && msg.HTML != "":
		m.SetBodyWriter(mail.TypeTextPlain, stringWriter(msg.Text))
		m.AddAlternativeWriter(mail.TypeTextHTML, stringWriter(msg.HTML))
	case msg.Text != "":
		m.SetBodyWriter(mail.TypeTextPlain, stringWriter(msg.Text))
	default:
		m.SetBodyWriter(mail.TypeTextHTML, stringWriter(msg.HTML))
	}
	return m, "<" + idInner + ">", nil
}

// stringWriter is a go-mail body writer for s.
func stringWriter(s string) func(io.Writer) (int64, error) {
	return func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, s)
		return int64(n), err
	}
}

// checkHeaderValue refuses line breaks (header injection) and other
// control characters in a value that goes into a header.
func checkHeaderValue(name, v string) error {
	if !utf8.ValidString(v) {
		return invalid("%s is not valid UTF-8", name)
	}
	for _, r := range v {
		switch {
		case r == '\r' || r == '\n':
			return invalid("%s contains a line break", name)
		case r != '\t' && (r < 0x20 || r == 0x7f):
			return invalid("%s contains control character %U", name, r)
		}
	}
	return nil
}

// checkHeaderName accepts RFC 5322 field names that build does not own.
func checkHeaderName(k string) error {
	if k == "" {
		return invalid("empty header name")
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 33 || c > 126 || c == ':' {
			return invalid("header name %q: only printable ASCII without ':' is allowed", k)
		}
	}
	if slices.Contains(reservedHeaders, strings.ToLower(k)) {
		return invalid("header %s is set by the mailer, not through Headers", k)
	}
	return nil
}

func parseAddress(field, v string) (*netmail.Address, error) {
	if v == "" {
		return nil, invalid("%s is empty", field)
	}
	a, err := netmail.ParseAddress(v)
	if err != nil {
		return nil, invalid("%s is not an RFC 5322 address: %w", field, err)
	}
	// An encoded word can decode to a line break: refuse that too.
	if err := checkHeaderValue(field+" display name", a.Name); err != nil {
		return nil, err
	}
	return a, nil
}

// messageIDInner returns id without its angle brackets after checking it is
// id-left@id-right with both sides dot-atoms (RFC 5322 §3.6.4).
func messageIDInner(id string) (string, error) {
	inner := id
	if strings.HasPrefix(inner, "<") && strings.HasSuffix(inner, ">") {
		inner = inner[1 : len(inner)-1]
	}
	left, right, ok := strings.Cut(inner, "@")
	if !ok || !isDotAtom(left) || !isDotAtom(right) {
		return "", invalid("MessageID %q is not <id@domain> (dot-atoms around one @)", id)
	}
	return inner, nil
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0) {
			return false
		}
	}
	return true
}

// newMessageID returns 128 random bits at the sender's domain.
func newMessageID(fromAddr string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	domain := fromAddr[strings.LastIndexByte(fromAddr, '@')+1:]
	if !isDotAtom(domain) {
		domain = "localhost"
	}
	return hex.EncodeToString(b[:]) + "@" + domain
}

// loopback hosts may use plain http: a local demo or test server has no
// certificate, and its links never leave the machine. RFC 8058 requires
// https for everything else.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func setUnsubscribe(m *mail.Msg, httpsURL, mailto string) error {
	if len(httpsURL)+len(mailto) > maxHeaderValue {
		return invalid("List-Unsubscribe URIs are longer than %d bytes together", maxHeaderValue)
	}
	var uris []string
	if mailto != "" {
		u, err := url.Parse(mailto)
		if err != nil || u.Scheme != "mailto" || u.Opaque == "" || strings.ContainsAny(mailto, "<>, \t") {
			return invalid("ListUnsubscribeMailto is not a mailto: URI without spaces, commas or angle brackets")
		}
		uris = append(uris, mailto)
	}
	if httpsURL == "" {
		if uris != nil {
			m.SetListUnsubscribe(uris...)
		}
		return nil
	}
	u, err := url.Parse(httpsURL)
	if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && loopback(u.Hostname())) || u.Host == "" ||
		strings.ContainsAny(httpsURL, "<>, \t") {
		return invalid("ListUnsubscribeURL is not an https URL without spaces, commas or angle brackets")
	}
	// go-mail writes u.String() of its own parse; check that is the URL we
	// were given, since the token in it must arrive byte for byte.
	if u.String() != httpsURL {
		return invalid("ListUnsubscribeURL is not in canonical form (want %q)", u.String())
	}
	if u.Scheme == "http" { // loopback only; go-mail's one-click setter insists on https
		m.SetListUnsubscribe(append([]string{httpsURL}, uris...)...)
		m.SetListUnsubscribePost()
		return nil
	}
	if err := m.SetListUnsubscribeOneClick(httpsURL, uris...); err != nil {
		return invalid("ListUnsubscribeURL: %w", err)
	}
	return nil
}

// listIDValue formats "Name <list.id>" with the name encoded if needed.
func listIDValue(v string) (string, error) {
	name, id := "", v
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if !strings.HasSuffix(v, ">") {
			return "", invalid("ListID %q: want \"Name <list.id.example>\"", v)
		}
		name, id = strings.TrimSpace(v[:i]), v[i+1:len(v)-1]
	}
	if !isDotAtom(id) || !strings.Contains(id, ".") {
		return "", invalid("ListID %q: the id must look like a domain, such as gifts.remarket.example", v)
	}
	if name == "" {
		return "<" + id + ">", nil
	}
	return phrase(name) + " <" + id + ">", nil
}

// phrase renders a display name: as is when it is plain words, quoted when
// it has specials, RFC 2047-encoded when it is not ASCII.
func phrase(s string) string {
	plain, ascii := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			ascii = false
		case c == ' ' || isDotAtom(string(c)) && c != '.':
		default:
			plain = false
		}
	}
	switch {
	case !ascii:
		return mime.QEncoding.Encode("UTF-8", s)
	case plain:
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// crlfWriter writes what it is given with every bare LF as CRLF.
type crlfWriter struct {
	w    io.Writer
	prev byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+len(p)/32)
	for _, b := range p {
		if b == '\n' && c.prev != '\r' {
			out = append(out, '\r')
		}
		out = append(out, b)
		c.prev = b
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
