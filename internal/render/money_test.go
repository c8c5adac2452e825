package render

import "testing"

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	const nbsp = "\u00a0"
	cases := []struct {
		minor    int64
		currency string
		locale   string
		want     string
	}{
		{1250, "GBP", "en-GB", "£12.50"},
		{1250, "EUR", "de-DE", "12,50" + nbsp + "€"},
		{123456789, "EUR", "de-DE", "1.234.567,89" + nbsp + "€"},
		{1250, "USD", "en-US", "$12.50"},
		{1250, "USD", "en-GB", "US$12.50"},
		{5, "GBP", "en-GB", "£0.05"},
		{0, "GBP", "en-GB", "£0.00"},
		{-1999, "GBP", "en-GB", "-£19.99"},
		{123456, "EUR", "fr-FR", "1" + nbsp + "234,56" + nbsp + "€"},
		{1250, "EUR", "nl-NL", "€" + nbsp + "12,50"},
		{1250, "EUR", "de-AT", "€" + nbsp + "12,50"},
		{1250, "CHF", "de-CH", "CHF" + nbsp + "12.50"},
		{1250, "CHF", "en-GB", "CHF" + nbsp + "12.50"},
		{1250, "SEK", "sv-SE", "12,50" + nbsp + "kr"},
		{1250, "BRL", "pt-BR", "R$" + nbsp + "12,50"},
		{1250, "MXN", "es-MX", "$12.50"},
		{1250, "EUR", "es-ES", "12,50" + nbsp + "€"},
		{1250, "JPY", "ja-JP", "￥1,250"},
		{1250, "JPY", "en-US", "¥1,250"},
		{1234567, "KWD", "en-GB", "KWD" + nbsp + "1,234.567"},
		{12345678, "INR", "en-IN", "₹1,23,456.78"},
		{1250, "gbp", "", "£12.50"},
		{1250, "GBP", "not a locale", "£12.50"},
		{1250, "XYZ", "en-GB", "XYZ" + nbsp + "12.50"},
	}
	for _, c := range cases {
		if got := FormatMoney(Money{c.minor, c.currency}, c.locale); got != c.want {
			t.Errorf("FormatMoney(%d %s, %q) = %q, want %q", c.minor, c.currency, c.locale, got, c.want)
		}
	}
}

func TestLineTotal(t *testing.T) {
	t.Parallel()
	l := Line{Quantity: 3, Price: Money{1999, "GBP"}}
	if got := l.Total(); got != (Money{5997, "GBP"}) {
		t.Fatalf("Total() = %v", got)
	}
}
