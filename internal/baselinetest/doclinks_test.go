package baselinetest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Links of the provider's documentation must work where it is read: on
// GitHub (docs/*.md in the repository) and in the Terraform Registry, which
// renders each docs/ page alone under /providers/<source>/latest/docs/...
// No relative link works in both (GitHub needs the file name, the registry
// its page path; the registry has no repository files), so the rule is:
//   - another page of the documentation: its absolute registry URL;
//   - a file or directory of the repository: its absolute GitHub URL on main;
//   - a heading of the same page: #anchor.
//
// The example's README.md is read on GitHub only and may link relatively.
const (
	registryDocs = "https://registry.terraform.io/providers/d365-audit/dynamics365/latest/docs"
	githubRepo   = "https://github.com/d365-audit/terraform-provider-dynamics365"
)

var (
	markdownLink = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	fencedBlock  = regexp.MustCompile("(?ms)^\\s*```.*?^\\s*```")
	htmlAnchor   = regexp.MustCompile(`<a id="([^"]+)">`) // tfplugindocs' nested schema anchors
)

func repoRoot(t *testing.T) string {
	t.Helper()
	return filepath.Join(exampleDir(t), "..", "..")
}

// pageLinks returns the link targets of a markdown page, outside code blocks.
func pageLinks(text string) []string {
	var links []string
	for _, m := range markdownLink.FindAllStringSubmatch(fencedBlock.ReplaceAllString(text, ""), -1) {
		links = append(links, m[1])
	}
	return links
}

// headingAnchors returns the GitHub anchors of a page's headings and its
// HTML anchors.
func headingAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	for _, m := range htmlAnchor.FindAllStringSubmatch(text, -1) {
		anchors[m[1]] = true
	}
	for _, line := range strings.Split(fencedBlock.ReplaceAllString(text, ""), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
				b.WriteRune(r)
			}
		}
		anchors[b.String()] = true
	}
	return anchors
}

// checkLink returns what is wrong with a link of page (relative to the
// repository root), or "".
func checkLink(root, page, text, link string, relativeAllowed bool) string {
	target, anchor, _ := strings.Cut(link, "#")
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); return err == nil }
	switch {
	case target == "":
		if !headingAnchors(text)[anchor] {
			return "no heading of this page has the anchor #" + anchor
		}
	case strings.HasPrefix(target, registryDocs):
		rest := strings.Trim(strings.TrimPrefix(target, registryDocs), "/")
		if rest != "" && !exists("docs/"+rest+".md") {
			return "no docs/" + rest + ".md for this registry page"
		}
	case strings.HasPrefix(target, githubRepo+"/"):
		rest := strings.TrimPrefix(target, githubRepo+"/")
		for _, prefix := range []string{"tree/main/", "blob/main/"} {
			if p, ok := strings.CutPrefix(rest, prefix); ok {
				if !exists(p) {
					return "the repository has no " + p
				}
				return ""
			}
		}
		if !strings.HasPrefix(rest, "releases") && !strings.HasPrefix(rest, "issues") {
			return "a repository link must point into tree/main/ or blob/main/"
		}
	case strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:"):
		// Other sites: not checked offline.
	case relativeAllowed:
		if !exists(filepath.ToSlash(filepath.Join(filepath.Dir(page), target))) {
			return "the relative target does not exist"
		}
	default:
		return "relative link: the registry renders this page alone; use " + registryDocs + "/… for a documentation page or " + githubRepo + "/tree/main/… for a repository file"
	}
	return ""
}

// TestDocumentationLinks checks every link of templates/, docs/ and the
// example's README.md against the rule above and the files it points to.
func TestDocumentationLinks(t *testing.T) {
	root := repoRoot(t)
	var pages []string
	for _, dir := range []string{"templates", "docs"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".md.tmpl")) {
				rel, _ := filepath.Rel(root, p)
				pages = append(pages, filepath.ToSlash(rel))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	readme := "examples/compliance-baseline/README.md"
	pages = append(pages, readme)
	checked := 0
	for _, page := range pages {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
		if err != nil {
			t.Fatal(err)
		}
		for _, link := range pageLinks(string(b)) {
			checked++
			if problem := checkLink(root, page, string(b), link, page == readme); problem != "" {
				t.Errorf("%s: link %s: %s", page, link, problem)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no links found: the pattern is broken")
	}
	t.Logf("%d links in %d pages", checked, len(pages))
}
