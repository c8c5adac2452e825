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
