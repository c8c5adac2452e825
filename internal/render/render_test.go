package render

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// embedded loads the embedded templates once for the package's tests.
var embedded = sync.OnceValues(func() (*Renderer, error) { return Load("") })

func loadEmbedded(t testing.TB) *Renderer {
	t.Helper()
	r, err := embedded()
	if err != nil {
		t.Fatalf("Load(\"\"): %v", err)
	}
	return r
}

var wantNames = []string{"abandoned-checkout", "browse-abandonment", "cross-sell", "replenish", "thank-you", "upsell", "win-back"}

func TestNames(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	if got := strings.Join(r.Names(), " "); got != strings.Join(wantNames, " ") {
		t.Fatalf("Names() = %s, want %s", got, strings.Join(wantNames, " "))
	}
	if r.Source() != "embedded" {
		t.Errorf("Source() = %q", r.Source())
	}
}

// TestGolden renders each email with its SampleData and compares subject,
// HTML and text with testdata/golden. Run go test -run Golden -update to
// accept a change, then read the diff.
func TestGolden(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	for _, name := range r.Names() {
		m, err := r.Render(name, SampleData(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for ext, got := range map[string]string{"subject": m.Subject + "\n", "html": m.HTML, "txt": m.Text} {
			path := filepath.Join("testdata", "golden", name+"."+ext)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file:\n%s\n(run go test -run Golden -update to accept it)", path, firstDiff(string(want), got))
			}
		}
	}
}

// firstDiff shows the first line where want and got differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl
		}
	}
	return "(same lines)"
}

func TestRenderUnknownTemplate(t *testing.T) {
	t.Parallel()
	_, err := loadEmbedded(t).Render("newsletter", SampleData("newsletter"))
	if !errors.Is(err, ErrUnknownTemplate) {
		t.Fatalf("err = %v, want ErrUnknownTemplate", err)
	}
}

func TestFirstNameFallsBackToGreeting(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	d := SampleData("win-back")
	d.Customer.FirstName = "  "
	m, err := r.Render("win-back", d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "We miss you at Fellside Outfitters" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.HTML, ">Hello,</p>") || !strings.HasPrefix(m.Text, "Hello,\n") {
		t.Errorf("no greeting without a name:\n%s\n%s", m.HTML, m.Text)
	}
}

func TestPreheader(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	d := SampleData("cross-sell")
	m, err := r.Render("cross-sell", d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, `class="preheader">Picked to go with what you bought from Fellside Outfitters.`) {
		t.Errorf("the template's preheader is missing")
	}
	d.Preheader = "Only this week: free delivery"
	if m, err = r.Render("cross-sell", d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, `class="preheader">Only this week: free delivery`) || strings.Contains(m.HTML, "Picked to go") {
		t.Errorf("Data.Preheader does not replace the template's")
	}
}

func TestMoneyFollowsStoreLocale(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	d := SampleData("thank-you")
	d.Store.Locale = "de-DE"
	for i := range d.Order.Lines {
		d.Order.Lines[i].Price.Currency = "EUR"
	}
	d.Order.Total = Money{18599, "EUR"}
	m, err := r.Render("thank-you", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"185,99\u00a0€", "149,99\u00a0€", `lang="de-DE"`} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if !strings.Contains(m.Text, "Total: 185,99\u00a0€") {
		t.Errorf("text lacks the German total:\n%s", m.Text)
	}
	// The English set is still English after the German one was built.
	if m, _ = r.Render("thank-you", SampleData("thank-you")); !strings.Contains(m.Text, "Total: £185.99") {
		t.Errorf("en-GB total changed:\n%s", m.Text)
	}
}

func TestRenderConcurrently(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			d := SampleData("cross-sell")
			d.Store.Locale = []string{"en-GB", "fr-FR", "de-DE", "nl-NL"}[i%4]
			for range 20 {
				if _, err := r.Render("cross-sell", d); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
