package mailer

import (
	"strings"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// maxLine is SMTP's limit on a line: 1000 octets with the CRLF (RFC 5321
// §4.5.3.1.6).
const maxLine = 998

// fitsEightBit says whether a body can go out as it is, with "8bit"
// transfer encoding: no line longer than SMTP allows, and no NUL or bare
// CR (the SMTP client turns LF into CRLF).
func fitsEightBit(body string) bool {
	if strings.IndexByte(body, 0) >= 0 || strings.IndexByte(body, '\r') >= 0 {
		return false
	}
	// Every line in a window of maxLine+1 bytes that holds a line break is
	// short enough, so jump past the window's last break: a window a step,
	// not a call per line (an HTML body has hundreds of short lines).
	for len(body) > maxLine {
		i := strings.LastIndexByte(body[:maxLine+1], '\n')
		if i < 0 {
			return false
		}
		body = body[i+1:]
	}
	return true
}

// setTransferEncoding sends the parts of gm unencoded ("8bit") when the
// server takes 8BITMIME (RFC 6152; go-mail then says BODY=8BITMIME) and the
// bodies fit, and quoted-printable otherwise. Quoted-printable is a pass
// over every byte, and it makes HTML with inlined styles about a tenth
// larger, since every "=" of an attribute becomes "=3D".
func setTransferEncoding(gm *mail.Msg, c *smtp.Client, fits bool) {
	ok, _ := c.Extension("8BITMIME")
	setEightBit(gm, ok && fits)
}

// setEightBit sends gm's parts unencoded or as quoted-printable.
func setEightBit(gm *mail.Msg, eightBit bool) {
	enc := mail.EncodingQP
	if eightBit {
		enc = mail.NoEncoding
	}
	for _, p := range gm.GetParts() {
		p.SetEncoding(enc)
	}
}
