package stacks

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"

	"github.com/sebdah/goldie/v2"
)

// assetHash matches the content hashes of assets (the service image, CDK's
// own Lambda code): they change with every edit of service/ or every CDK
// upgrade, which is not what a stack snapshot is for. TestImageAssetHash
// pins what the image hash depends on instead.
var assetHash = regexp.MustCompile(`[a-f0-9]{64}`)

// assertSnapshots compares the named stacks' templates with
// testdata/<prefix><Stack>.template.json.
func assertSnapshots(t *testing.T, s *synthesized, prefix string, names ...string) {
	g := goldie.New(t, goldie.WithFixtureDir("testdata"), goldie.WithNameSuffix(".template.json"))
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(toJSON(t, s.templates[name])); err != nil {
				t.Fatal(err)
			}
			g.Assert(t, prefix+name, assetHash.ReplaceAll(buf.Bytes(), []byte("<asset-hash>")))
			if t.Failed() {
				t.Log("If the change is intended, read the diff above, then run: go test ./stacks -run TestSnapshots -update")
			}
		})
	}
}

func TestSnapshots(t *testing.T) {
	assertSnapshots(t, defaults(t), "", stackNames...)
}

// TestSnapshotsAccountBound pins the templates a real deploy uses: with
// credentials the stacks are bound to an account and a region.
func TestSnapshotsAccountBound(t *testing.T) {
	assertSnapshots(t, variant(t, "Account"), "Account", stackNames...)
}

func TestSnapshotsWithDomain(t *testing.T) {
	// Only this stack changes with a custom domain (TestCustomDomain).
	assertSnapshots(t, variant(t, "Domain"), "Domain", "LoadBalancer")
}
