package render

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"github.com/remarket/remarket/internal/shop"
)

// FormatMoney writes m for a reader of locale (BCP 47, e.g. "de-DE"): the
// currency's symbol for that locale, the locale's digit grouping and decimal
// separator, and the symbol before or after the number as the locale does,
// e.g. GBP/en-GB "£12.50", EUR/de-DE "12,50 €" (with a no-break space),
// USD/en-GB "US$12.50". An empty or unknown locale formats as English; an
// unknown currency shows its code.
func FormatMoney(m Money, locale string) string {
	return newMoneyFormatter(parseLocale(locale)).format(m)
}

// parseLocale returns the tag for a BCP 47 locale, English when it is empty
// or invalid.
func parseLocale(locale string) language.Tag {
	if locale == "" {
		return language.English
	}
	tag, err := language.Parse(locale)
	if err != nil {
		return language.English
	}
	return tag
}

// moneyFormatter formats money for one language. The decimal separator and
// the symbol placement are worked out once; symbols are cached per currency.
type moneyFormatter struct {
	tag     language.Tag
	printer *message.Printer
	decimal string // the locale's decimal separator
	after   bool   // symbol after the number
	space   string // between number and symbol: "" or a no-break space

	mu      sync.Mutex
	symbols map[string]string
	done    map[Money]string // formatted amounts: a campaign repeats the same prices
}

// maxDone bounds the formatted amounts kept; past it the cache starts again.
const maxDone = 4096

func newMoneyFormatter(tag language.Tag) *moneyFormatter {
	f := &moneyFormatter{tag: tag, printer: message.NewPrinter(tag), symbols: map[string]string{}, done: map[Money]string{}}
	// The separator is what stands between the digits of one half.
	half := []rune(f.printer.Sprint(number.Decimal(1.5, number.Scale(1))))
	f.decimal = "."
	if len(half) >= 3 {
		f.decimal = string(half[1 : len(half)-1])
	}
	f.after, f.space = symbolPlacement(tag)
	return f
}

// format writes m; see FormatMoney. x/text's number formatting costs
// microseconds, so results are kept.
func (f *moneyFormatter) format(m Money) string {
	f.mu.Lock()
	s, ok := f.done[m]
	f.mu.Unlock()
	if ok {
		return s
	}
	s = f.formatNew(m)
	f.mu.Lock()
	if len(f.done) >= maxDone {
		clear(f.done)
	}
	f.done[m] = s
	f.mu.Unlock()
	return s
}

func (f *moneyFormatter) formatNew(m Money) string {
	code := strings.ToUpper(strings.TrimSpace(m.Currency))
	digits := shop.MinorDigits(code)
	minor := m.Minor
	sign := ""
	if minor < 0 {
		sign = "-"
		minor = -minor
	}
	pow := int64(1)
	for range digits {
		pow *= 10
	}
	num := f.printer.Sprint(number.Decimal(minor / pow))
	if digits > 0 {
		frac := strconv.FormatInt(minor%pow, 10)
		num += f.decimal + strings.Repeat("0", digits-len(frac)) + frac
	}
	sym := f.symbol(code)
	if f.after {
		return sign + num + f.space + sym
	}
	if f.space == "" && sym != "" && isLetter(sym[len(sym)-1]) {
		// A code or a word such as "CHF" or "kr" needs a space before the number.
		return sign + sym + "\u00a0" + num
	}
	return sign + sym + f.space + num
}

func (f *moneyFormatter) symbol(code string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.symbols[code]; ok {
		return s
	}
	s := code
	if u, err := currency.ParseISO(code); err == nil {
		s = f.printer.Sprint(currency.Symbol(u))
	}
	f.symbols[code] = s
	return s
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// symbolPlacement says where a locale writes the currency symbol, following
// the standard currency patterns of CLDR for the languages shops use most
// (x/text formats numbers but has no currency patterns): after the number
// with a no-break space ("12,50 €") in most of continental Europe, before it
// with a no-break space in Dutch, Swiss and Austrian German and Brazilian
// Portuguese ("€ 12,50"), and before it without a space elsewhere ("£12.50").
func symbolPlacement(tag language.Tag) (after bool, space string) {
	const nbsp = "\u00a0"
	base, _ := tag.Base()
	region, _ := tag.Region()
	switch base.String() {
	case "de":
		switch region.String() {
		case "AT", "CH", "LI":
			return false, nbsp
		}
		return true, nbsp
	case "it":
		if region.String() == "CH" {
			return false, nbsp
		}
		return true, nbsp
	case "pt":
		if region.String() == "PT" {
			return true, nbsp
		}
		return false, nbsp
	case "es":
		switch region.String() {
		case "", "ES", "ZZ":
			return true, nbsp
		}
		return false, "" // Latin America and the US
	case "nl":
		return false, nbsp
	case "fr", "ca", "sv", "da", "nb", "nn", "no", "fi", "pl", "cs", "sk", "hu", "ro", "bg",
		"hr", "sl", "sr", "lt", "lv", "et", "ru", "uk", "el", "is":
		return true, nbsp
	}
	return false, ""
}
