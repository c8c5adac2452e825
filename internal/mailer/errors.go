package mailer

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	"github.com/wneessen/go-mail"
)

// Error kinds. Every error Send returns for a message that reached the
// network wraps exactly one of ErrTemporary, ErrPermanent or ErrAfterHandoff;
// test with errors.Is. A *SendError carries the details.
var (
	// ErrTemporary: try again later. A 4xx reply, or a failure that was not a
	// reply at all (refused dial, reset connection, timeout, TLS or AUTH
	// trouble) before the server had accepted the message. If the connection
	// broke while the message body was being sent, the server may still have
	// kept it, so a retry can rarely deliver twice (RFC 5321 §6.1 accepts
	// this over losing mail).
	ErrTemporary = errors.New("temporary SMTP failure")

	// ErrPermanent: do not retry this message. The server answered MAIL FROM,
	// RCPT TO or the message data with a 5xx reply. Only some of these say
	// the address is bad (see IsBounce): a 5xx to MAIL FROM or to the data
	// may refuse the sender or the content instead.
	ErrPermanent = errors.New("permanent SMTP failure")

	// ErrAfterHandoff: the server accepted the message (Result.Delivered is
	// true) and something failed afterwards, such as the RSET go-mail sends
	// after DATA. Record the message as sent; do not retry it.
	ErrAfterHandoff = errors.New("SMTP failure after the server accepted the message")

	// ErrInvalidMessage: the Message cannot be sent as given (a bad address,
	// a line break in a header, a non-https unsubscribe URL...). Nothing was
	// sent; retrying the same Message fails the same way.
	ErrInvalidMessage = errors.New("invalid message")

	// ErrClosed is returned by Send after Close.
	ErrClosed = errors.New("mailer is closed")
)

// SendError describes a send that failed at or after the SMTP server.
type SendError struct {
	// Kind is ErrTemporary, ErrPermanent or ErrAfterHandoff.
	Kind error
	// Op is the step that failed: "dial" (connect, greeting, STARTTLS,
	// AUTH), "check" (go-mail's NOOP), "mail", "rcpt", "data", "rset".
	Op string
	// Code is the SMTP reply code, or 0 when the failure was not a reply.
	Code int
	// EnhancedCode is the RFC 3463 status such as "5.1.1", when sent.
	EnhancedCode string
	// Reply is the server's reply text, or the network error, without the
	// recipient address that go-mail appends (log IDs, not addresses).
	Reply string
}

func (e *SendError) Error() string {
	return fmt.Sprintf("smtp %s: %s (%s)", e.Op, e.Reply, kindName(e.Kind))
}

// Unwrap returns the kind, so errors.Is(err, ErrPermanent) works.
func (e *SendError) Unwrap() error { return e.Kind }

// IsBounce reports whether err says the recipient address is bad, so it
// should be suppressed: a 5xx reply to RCPT TO, or any 5xx with an RFC 3463
// address status 5.1.x (some servers check recipients only after DATA).
func IsBounce(err error) bool {
	var e *SendError
	if !errors.As(err, &e) || e.Kind != ErrPermanent {
		return false
	}
	return e.Op == "rcpt" || strings.HasPrefix(e.EnhancedCode, "5.1.")
}

func kindName(k error) string {
	switch k {
	case ErrTemporary:
		return "temporary"
	case ErrPermanent:
		return "permanent"
	case ErrAfterHandoff:
		return "after handoff"
	}
	return "unknown"
}

// opOf names go-mail's failure reasons.
func opOf(r mail.SendErrReason) string {
	switch r {
	case mail.ErrConnCheck:
		return "check"
	case mail.ErrSMTPMailFrom:
		return "mail"
	case mail.ErrSMTPRcptTo:
		return "rcpt"
	case mail.ErrSMTPData, mail.ErrWriteContent, mail.ErrSMTPDataClose:
		return "data"
	case mail.ErrSMTPReset:
		return "rset"
	case mail.ErrGetSender, mail.ErrGetRcpts, mail.ErrNoUnencoded:
		return "message"
	}
	return "send"
}

// beforeContent reports whether a failure at r happened before any of the
// message was written, so resending cannot deliver it twice.
func beforeContent(r mail.SendErrReason) bool {
	switch r {
	case mail.ErrConnCheck, mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPData:
		return true
	}
	return false
}

// sendFailure is what Send needs to know about a go-mail error.
type sendFailure struct {
	se     *mail.SendError // nil when err was not a *mail.SendError
	reason mail.SendErrReason
	code   int
}

func asFailure(err error) sendFailure {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return sendFailure{reason: mail.ErrAmbiguous}
	}
	return sendFailure{se: se, reason: se.Reason, code: se.ErrorCode()}
}

// connLost reports a failure that says the connection is unusable rather
// than anything about the message: not a reply at all, or 421 (the server
// is closing the channel).
func (f sendFailure) connLost() bool { return f.code == 0 || f.code == 421 }

// newSendError turns go-mail's error into a *SendError. delivered is the
// message's IsDelivered after the attempt.
func newSendError(err error, f sendFailure, delivered bool, msgID string) error {
	if f.se != nil && (f.reason == mail.ErrGetSender || f.reason == mail.ErrGetRcpts || f.reason == mail.ErrNoUnencoded) {
		return fmt.Errorf("%w: %s", ErrInvalidMessage, replyText(f.se, msgID))
	}
	e := &SendError{Op: opOf(f.reason), Code: f.code, Kind: ErrTemporary}
	if f.se != nil {
		e.EnhancedCode = f.se.EnhancedStatusCode()
		e.Reply = replyText(f.se, msgID)
	} else {
		e.Reply = err.Error()
	}
	switch {
	case delivered:
		e.Kind = ErrAfterHandoff
	case f.code >= 500 && f.code < 600:
		e.Kind = ErrPermanent
	}
	return e
}

// replyText is go-mail's error text without its reason prefix and without
// the ", affected recipient(s): …" and ", affected message ID: …" suffixes,
// which would put an address into our logs. go-mail keeps the underlying
// errors private (SendError has no Unwrap), so the text is all there is.
func replyText(se *mail.SendError, msgID string) string {
	s := se.Error()
	s = strings.TrimSuffix(s, ", affected message ID: "+msgID)
	if i := strings.LastIndex(s, ", affected recipient(s): "); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimPrefix(s, se.Reason.String())
	s = strings.TrimPrefix(s, ":")
	s = strings.TrimSpace(s)
	if s == "" {
		s = se.Reason.String()
	}
	return s
}

// dialError classifies a failed dial. Every dial failure is temporary: a
// refused AUTH or a missing STARTTLS is the sender's configuration, not a
// verdict on this message, and must not bounce the address.
func dialError(err error) error {
	e := &SendError{Op: "dial", Kind: ErrTemporary, Reply: err.Error()}
	var te *textproto.Error
	if errors.As(err, &te) {
		e.Code = te.Code
	}
	return e
}
