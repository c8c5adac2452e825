// Package migrations embeds remarket's numbered SQL migrations. Files are
// never edited once released; a change is a new file.
package migrations

import "embed"

// FS holds the goose SQL files.
//
//go:embed *.sql
var FS embed.FS
