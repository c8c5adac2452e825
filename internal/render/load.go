package render

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"

	"golang.org/x/text/language"

	"github.com/remarket/remarket/templates"
)

// file is one template file and where it came from.
type file struct {
	rel  string // slash path inside the template folder, e.g. "cross-sell/body.html"
	path string // what errors show: the override's path, or templates/... when embedded
	src  string
}

// Fixed files of a template folder.
const (
	styleFile      = "style.css"
	layoutHTMLFile = "layout.html"
	layoutTextFile = "layout.txt"
	partialsDir    = "partials"
)

// Files of each email's folder.
var emailFiles = []string{"subject.txt", "body.html", "body.txt"}

var emailName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Load reads the templates: the embedded ones when dir is "", else the
// embedded ones with each file that dir holds at the same path taking the
// place of the embedded file (see the package doc). A new folder in dir with
// subject.txt, body.html and body.txt adds an email. Load inlines style.css
// into every HTML file and parses everything. It returns an error joining a
// *Problem for every file that fails, each naming the file and line.
func Load(dir string) (*Renderer, error) { return load(dir, loadOptions{}) }

// loadOptions are for tests and benchmarks.
type loadOptions struct {
	// noInline keeps the stylesheet as a <style> element in the layout's
	// head instead of inlining it: the naive set that is inlined per message.
	noInline bool
}

func load(dir string, opt loadOptions) (*Renderer, error) {
	files, err := readFiles(dir)
	if err != nil {
		return nil, err
	}
	var problems []error
	fail := func(f *file, err error) {
		problems = append(problems, problemFrom(err, f))
	}

	// Sort the files out.
	var (
		partialsHTML, partialsText []*file
		emails                     = map[string]map[string]*file{}
	)
	for _, rel := range sortedKeys(files) {
		f := files[rel]
		dirName, base := path.Split(rel)
		dirName = strings.TrimSuffix(dirName, "/")
		switch {
		case rel == styleFile || rel == layoutHTMLFile || rel == layoutTextFile:
		case dirName == partialsDir && (path.Ext(base) == ".html" || path.Ext(base) == ".txt"):
			if path.Ext(base) == ".html" {
				partialsHTML = append(partialsHTML, f)
			} else {
				partialsText = append(partialsText, f)
			}
		case dirName != "" && !strings.Contains(dirName, "/") && emailName.MatchString(dirName) && isEmailFile(base):
			if emails[dirName] == nil {
				emails[dirName] = map[string]*file{}
			}
			emails[dirName][base] = f
		default:
			fail(f, errors.New("unexpected template file: expected style.css, layout.html, layout.txt, "+
				"partials/NAME.html, partials/NAME.txt or EMAIL/{subject.txt,body.html,body.txt}"))
		}
	}
	for _, rel := range []string{styleFile, layoutHTMLFile, layoutTextFile} {
		if files[rel] == nil {
			return nil, &Problem{File: rel, Message: "missing (the embedded set has it: is the binary built from a full checkout?)"}
		}
	}
	for _, name := range sortedKeys(emails) {
		var missing []string
		for _, base := range emailFiles {
			if emails[name][base] == nil {
				missing = append(missing, base)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, &Problem{Template: name, File: displayPath(dir, name),
				Message: "missing " + strings.Join(missing, " and ") + " (an email needs subject.txt, body.html and body.txt)"})
		}
	}

	// Check the syntax of every template first, so each bad file is reported
	// with the author's own lines before anything else is done with it.
	fm := funcs(newMoneyFormatter(language.English))
	for _, rel := range sortedKeys(files) {
		f := files[rel]
		if rel == styleFile {
			continue
		}
		if _, err := texttemplate.New(f.path).Funcs(fm).Parse(f.src); err != nil {
			fail(f, err)
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}

	css := files[styleFile].src
	inline := func(f *file) (string, bool) {
		if opt.noInline {
			if f.rel == layoutHTMLFile {
				return strings.Replace(f.src, "</head>", "<style>"+css+"</style></head>", 1), true
			}
			return f.src, true
		}
		out, err := inlineCSS(f.src, css)
		if err != nil {
			fail(f, err)
			return "", false
		}
		return out, true
	}

	// The layout and partials every email shares.
	htmlBase := htmltemplate.New(layoutHTMLFile).Funcs(htmltemplate.FuncMap(fm)).Option("missingkey=error")
	textBase := texttemplate.New(layoutTextFile).Funcs(fm).Option("missingkey=error")
	layoutHTML, layoutText := files[layoutHTMLFile], files[layoutTextFile]
	if src, ok := inline(layoutHTML); ok {
		if _, err := htmlBase.New(layoutHTML.path).Parse(src); err != nil {
			fail(layoutHTML, err)
		}
	}
	if _, err := textBase.New(layoutText.path).Parse(layoutText.src); err != nil {
		fail(layoutText, err)
	}
	for _, f := range partialsHTML {
		src, ok := inline(f)
		if !ok {
			continue
		}
		if err := addHTML(htmlBase, f, src, strings.TrimSuffix(path.Base(f.rel), ".html")); err != nil {
			fail(f, err)
		}
	}
	for _, f := range partialsText {
		if err := addText(textBase, f, f.src, strings.TrimSuffix(path.Base(f.rel), ".txt")); err != nil {
			fail(f, err)
		}
	}

	r := &Renderer{source: "embedded", protos: map[string]*email{}, byLang: map[langKey]*email{}}
	if dir != "" {
		r.source = dir
	}
	keptPartProblems := map[string]*Problem{}
	for _, name := range sortedKeys(emails) {
		ef := emails[name]
		subjectFile, bodyHTML, bodyText := ef["subject.txt"], ef["body.html"], ef["body.txt"]
		subject, err := texttemplate.New(subjectFile.path).Funcs(fm).Option("missingkey=error").Parse(subjectFile.src)
		if err != nil {
			fail(subjectFile, err)
		}
		h, err := htmlBase.Clone()
		if err != nil {
			return nil, fmt.Errorf("load templates: clone layout: %w", err)
		}
		if src, ok := inline(bodyHTML); ok {
			if err := addHTML(h, bodyHTML, src, "content"); err != nil {
				fail(bodyHTML, err)
			}
		}
		t, err := textBase.Clone()
		if err != nil {
			return nil, fmt.Errorf("load templates: clone text layout: %w", err)
		}
		if err := addText(t, bodyText, bodyText.src, "content"); err != nil {
			fail(bodyText, err)
		}
		if p := checkSets(subject, h, t); p != nil {
			// A shared partial's problem is the same in every email: one
			// problem, of no one email (Problem.Template is empty for
			// shared files).
			k := p.File + "\x00" + strconv.Itoa(p.Line) + "\x00" + p.Field + "\x00" + p.Message
			if seen := keptPartProblems[k]; seen != nil {
				seen.Template = ""
			} else {
				p.Template = name
				keptPartProblems[k] = p
				problems = append(problems, p)
			}
		}
		r.names = append(r.names, name)
		r.protos[name] = &email{subject: subject, html: h.Lookup(layoutHTML.path), text: t.Lookup(layoutText.path)}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if len(r.names) == 0 {
		return nil, &Problem{File: displayPath(dir, ""), Message: "no emails: expected folders with subject.txt, body.html and body.txt"}
	}
	for _, e := range r.protos {
		e.findNeeds()
	}
	return r, nil
}

// addHTML parses the file f (its text src, inlined) into set under the file's
// path, so errors name it, and makes it callable as name.
func addHTML(set *htmltemplate.Template, f *file, src, name string) error {
	t, err := set.New(f.path).Parse(src)
	if err != nil {
		return err
	}
	if t.Tree == nil { // only {{define}}s
		return nil
	}
	_, err = set.AddParseTree(name, t.Tree)
	return err
}

// addText is addHTML for text templates.
func addText(set *texttemplate.Template, f *file, src, name string) error {
	t, err := set.New(f.path).Parse(src)
	if err != nil {
		return err
	}
	if t.Tree == nil { // only {{define}}s
		return nil
	}
	_, err = set.AddParseTree(name, t.Tree)
	return err
}

func isEmailFile(base string) bool {
	for _, b := range emailFiles {
		if b == base {
			return true
		}
	}
	return false
}

// readFiles returns the template files by slash path: the embedded ones, then
// those of dir in their place.
func readFiles(dir string) (map[string]*file, error) {
	files := map[string]*file{}
	add := func(fsys fs.FS, display func(rel string) string) error {
		return fs.WalkDir(fsys, ".", func(rel string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if rel != "." && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			switch path.Ext(rel) {
			case ".html", ".txt", ".css":
			default:
				return nil // Go files, READMEs, images
			}
			if d.IsDir() {
				return nil
			}
			b, err := fs.ReadFile(fsys, rel)
			if err != nil {
				return err
			}
			files[rel] = &file{rel: rel, path: display(rel), src: strings.ReplaceAll(string(b), "\r\n", "\n")}
			return nil
		})
	}
	if err := add(templates.FS, func(rel string) string { return "templates/" + rel }); err != nil {
		return nil, fmt.Errorf("read embedded templates: %w", err)
	}
	if dir == "" {
		return files, nil
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("read templates: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("read templates: %s is not a folder", dir)
	}
	if err := add(os.DirFS(dir), func(rel string) string { return displayPath(dir, rel) }); err != nil {
		return nil, fmt.Errorf("read templates in %s: %w", dir, err)
	}
	return files, nil
}

// displayPath is the path errors show for rel in dir.
func displayPath(dir, rel string) string {
	if dir == "" {
		return "templates/" + rel
	}
	return filepath.Join(dir, filepath.FromSlash(rel))
}
