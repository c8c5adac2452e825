package config

import (
	"strings"
	"testing"
)

func TestFromEnvDefaults(t *testing.T) {
	t.Parallel()
	c := FromEnv(func(string) string { return "" })
	if c.DatabaseURL != DefaultDatabaseURL || c.HTTPAddr != DefaultHTTPAddr {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults must validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	base := FromEnv(func(string) string { return "" })
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"db", func(c *Config) { c.DatabaseURL = "mysql://x" }, "REMARKET_DATABASE_URL"},
		{"addr", func(c *Config) { c.HTTPAddr = "8080" }, "REMARKET_HTTP_ADDR"},
		{"public", func(c *Config) { c.PublicURL = "example.com" }, "REMARKET_PUBLIC_URL"},
		{"smtp", func(c *Config) { c.SMTPURL = "http://x" }, "REMARKET_SMTP_URL"},
		{"starttls", func(c *Config) { c.SMTPURL = "smtp://h:25?starttls=maybe" }, "starttls"},
		{"secret", func(c *Config) { c.Secret = "short" }, "REMARKET_SECRET"},
		{"rate", func(c *Config) { c.SMTPRate = "fast" }, "REMARKET_SMTP_RATE"},
		{"connections", func(c *Config) { c.SMTPConnections = "many" }, "REMARKET_SMTP_CONNECTIONS"},
		{"no connections", func(c *Config) { c.SMTPConnections = "0" }, "REMARKET_SMTP_CONNECTIONS"},
		{"too many connections", func(c *Config) { c.SMTPConnections = "65" }, "REMARKET_SMTP_CONNECTIONS"},
		{"inbound addr", func(c *Config) { c.InboundAddr, c.UnsubscribeDomain = "2525", "unsub.shop.example" }, "REMARKET_INBOUND_ADDR"},
		{"inbound port", func(c *Config) { c.InboundAddr, c.UnsubscribeDomain = ":smtp", "unsub.shop.example" }, "REMARKET_INBOUND_ADDR"},
		{"inbound port range", func(c *Config) { c.InboundAddr, c.UnsubscribeDomain = ":70000", "unsub.shop.example" }, "REMARKET_INBOUND_ADDR"},
		{"inbound without domain", func(c *Config) { c.InboundAddr = ":25" }, "REMARKET_UNSUBSCRIBE_DOMAIN is not"},
		{"domain one label", func(c *Config) { c.UnsubscribeDomain = "localhost" }, "REMARKET_UNSUBSCRIBE_DOMAIN"},
		{"domain IP", func(c *Config) { c.UnsubscribeDomain = "192.0.2.1" }, "IP address"},
		{"domain with @", func(c *Config) { c.UnsubscribeDomain = "unsubscribe@shop.example" }, "REMARKET_UNSUBSCRIBE_DOMAIN"},
		{"domain URL", func(c *Config) { c.UnsubscribeDomain = "https://shop.example" }, "REMARKET_UNSUBSCRIBE_DOMAIN"},
		{"domain trailing dot", func(c *Config) { c.UnsubscribeDomain = "shop.example." }, "REMARKET_UNSUBSCRIBE_DOMAIN"},
		{"domain hyphen", func(c *Config) { c.UnsubscribeDomain = "-unsub.shop.example" }, "REMARKET_UNSUBSCRIBE_DOMAIN"},
		{"domain unicode", func(c *Config) { c.UnsubscribeDomain = "unsub.bücher.example" }, "xn--"},
		{"domain long label", func(c *Config) { c.UnsubscribeDomain = strings.Repeat("a", 64) + ".example" }, "REMARKET_UNSUBSCRIBE_DOMAIN"},
	}
	for _, tc := range cases {
		c := base
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}

func TestInboundSettings(t *testing.T) {
	t.Parallel()
	env := map[string]string{"REMARKET_INBOUND_ADDR": ":2525", "REMARKET_UNSUBSCRIBE_DOMAIN": "unsub.shop.example"}
	c := FromEnv(func(k string) string { return env[k] })
	if c.InboundAddr != ":2525" || c.UnsubscribeDomain != "unsub.shop.example" {
		t.Fatalf("not read from the environment: %+v", c)
	}
	for flag, name := range map[string]string{"inbound-addr": "REMARKET_INBOUND_ADDR", "unsubscribe-domain": "REMARKET_UNSUBSCRIBE_DOMAIN"} {
		if Env[flag] != name {
			t.Errorf("Env[%q] = %q, want %q", flag, Env[flag], name)
		}
	}
	for _, ok := range []Config{
		c,
		{InboundAddr: "0.0.0.0:25", UnsubscribeDomain: "xn--bcher-kva.example"},
		{InboundAddr: "[::1]:0", UnsubscribeDomain: "Unsub.Shop.Example"},
		{UnsubscribeDomain: "unsub.shop.example"}, // the mailbox may run in another process
	} {
		ok.DatabaseURL, ok.HTTPAddr = DefaultDatabaseURL, DefaultHTTPAddr
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

// TestSMTPConnections: serve's SMTP connections come from
// REMARKET_SMTP_CONNECTIONS, 8 when it is unset.
func TestSMTPConnections(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]int{"": DefaultSMTPConnections, "16": 16, "1": 1} {
		c := FromEnv(func(k string) string {
			if k == "REMARKET_SMTP_CONNECTIONS" {
				return env
			}
			return ""
		})
		if err := c.Validate(); err != nil {
			t.Errorf("%q: %v", env, err)
		}
		if got := c.SMTPConnectionCount(); got != want {
			t.Errorf("REMARKET_SMTP_CONNECTIONS=%q: %d connections, want %d", env, got, want)
		}
	}
	if Env["smtp-connections"] != "REMARKET_SMTP_CONNECTIONS" {
		t.Errorf("Env[smtp-connections] = %q", Env["smtp-connections"])
	}
}
