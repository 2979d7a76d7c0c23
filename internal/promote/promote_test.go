package promote

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The asset hashes of the fixture: one image pushed as a single manifest,
// one as an index (as BuildKit pushes an image with attestations).
const (
	manifestAsset = "1111111111111111111111111111111111111111111111111111111111111111"
	indexAsset    = "2222222222222222222222222222222222222222222222222222222222222222"
)

// fakeRegistry is go-containerregistry's in-memory registry. lie, when
// set, makes it answer that digest for every manifest HEAD, as a registry
// holding something else under the tag would.
type fakeRegistry struct {
	host string
	lie  atomic.Pointer[string]
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{}
	inner := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if d := r.lie.Load(); d != nil && req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/") {
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, req)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Docker-Content-Digest", *d)
			w.WriteHeader(rec.Code)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func (r *fakeRegistry) resolve(_ context.Context, img Image) (name.Tag, []remote.Option, error) {
	tag, err := name.NewTag(r.host+"/"+img.Repository+":"+img.Tag, name.Insecure)
	return tag, nil, err
}

func (r *fakeRegistry) tag(t *testing.T, repo, hash string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(r.host+"/"+repo+":"+hash, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func (r *fakeRegistry) digest(t *testing.T, repo, hash string) v1.Hash {
	t.Helper()
	d, err := remote.Head(r.tag(t, repo, hash))
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

// assembly writes a cloud assembly's asset manifest whose image assets
// go to repo, as CDK writes one for a stack with a fixed environment.
func assembly(t *testing.T, repo string, hashes ...string) string {
	t.Helper()
	images := map[string]any{}
	for _, h := range hashes {
		images[h] = map[string]any{
			"displayName": "TaskDefinition/Web/AssetImage",
			"source":      map[string]any{"directory": "asset." + h, "platform": "linux/arm64"},
			"destinations": map[string]any{
				"123456789012-eu-west-1-091405df": map[string]any{
					"repositoryName": repo,
					"imageTag":       h,
					"region":         "eu-west-1",
					"assumeRoleArn":  "arn:${AWS::Partition}:iam::123456789012:role/cdk-hnb659fds-image-publishing-role-123456789012-eu-west-1",
				},
			},
		}
	}
	data, err := json.Marshal(map[string]any{"version": "55.0.0", "files": map[string]any{}, "dockerImages": images})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app-staging-Service.assets.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app-staging-Network.assets.json"), []byte(`{"version":"55.0.0","files":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// staged puts a random image under manifestAsset's tag and a random
// index under indexAsset's in the staging repository, and exports them.
func staged(t *testing.T, reg *fakeRegistry) (layoutDir string, exported map[string]v1.Hash) {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(reg.tag(t, "staging-assets", manifestAsset), img); err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(512, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(reg.tag(t, "staging-assets", indexAsset), idx); err != nil {
		t.Fatal(err)
	}
	layoutDir = filepath.Join(t.TempDir(), "promoted")
	out, err := Export(context.Background(), assembly(t, "staging-assets", manifestAsset, indexAsset), layoutDir, reg.resolve)
	if err != nil {
		t.Fatal(err)
	}
	exported = map[string]v1.Hash{}
	for _, e := range out {
		exported[e.Hash] = e.Digest
	}
	for _, h := range []string{manifestAsset, indexAsset} {
		if got, want := exported[h], reg.digest(t, "staging-assets", h); got != want {
			t.Fatalf("exported %s as %s, staging's tag holds %s", h, got, want)
		}
	}
	return layoutDir, exported
}

func TestPromotePushesTheDigestStagingRan(t *testing.T) {
	reg := newFakeRegistry(t)
	layoutDir, exported := staged(t, reg)
	production := assembly(t, "production-assets", manifestAsset, indexAsset)

	for attempt := range 2 { // the second is a re-run: the tags hold the same digests
		if _, err := Push(context.Background(), production, layoutDir, reg.resolve); err != nil {
			t.Fatalf("push %d: %v", attempt+1, err)
		}
		for h, want := range exported {
			if got := reg.digest(t, "production-assets", h); got != want {
				t.Errorf("push %d: production's %s holds %s, staging ran %s", attempt+1, h[:8], got, want)
			}
		}
	}
}

func TestPromoteRefusesATagHoldingAnotherDigest(t *testing.T) {
	reg := newFakeRegistry(t)
	layoutDir, exported := staged(t, reg)
	// A build in production's account got there first.
	other, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(reg.tag(t, "production-assets", manifestAsset), other); err != nil {
		t.Fatal(err)
	}
	otherDigest, _ := other.Digest()

	_, err = Push(context.Background(), assembly(t, "production-assets", manifestAsset), layoutDir, reg.resolve)
	if err == nil {
		t.Fatal("pushed over a tag that holds another digest")
	}
	for _, d := range []v1.Hash{otherDigest, exported[manifestAsset]} {
		if !strings.Contains(err.Error(), d.String()) {
			t.Errorf("the error does not name %s: %v", d, err)
		}
	}
}

func TestPromoteComparesAnIndexWithAnIndex(t *testing.T) {
	reg := newFakeRegistry(t)
	layoutDir, _ := staged(t, reg)
	// Production's manifestAsset tag holds an index whose only child is
	// the very image staging ran, and its indexAsset tag holds one of the
	// staged index's children: neither is what staging ran under the tag.
	p, err := newLayoutIndex(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.image(manifestAsset)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(reg.tag(t, "production-assets", manifestAsset), singleIndex(img)); err != nil {
		t.Fatal(err)
	}
	child, err := p.firstChild(indexAsset)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(reg.tag(t, "production-assets", indexAsset), child); err != nil {
		t.Fatal(err)
	}

	for h, want := range map[string][]string{
		manifestAsset: {"holds index", "promoting manifest " + p.digest(manifestAsset).String()},
		indexAsset:    {"holds manifest", "promoting index " + p.digest(indexAsset).String()},
	} {
		_, err := Push(context.Background(), assembly(t, "production-assets", h), layoutDir, reg.resolve)
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: want a refusal saying %q, got %v", h[:8], w, err)
			}
		}
	}
}

func TestPromoteChecksWhatTheRegistryAnswersAfterThePush(t *testing.T) {
	reg := newFakeRegistry(t)
	layoutDir, _ := staged(t, reg)
	lie := "sha256:" + strings.Repeat("e", 64)
	reg.lie.Store(&lie)

	_, err := Push(context.Background(), assembly(t, "production-assets", manifestAsset), layoutDir, reg.resolve)
	if err == nil || !strings.Contains(err.Error(), lie) {
		t.Fatalf("want a refusal naming the digest the registry answered, %s; got %v", lie, err)
	}
}

func TestPromoteRefusesAnImageStagingDidNotRun(t *testing.T) {
	reg := newFakeRegistry(t)
	layoutDir, _ := staged(t, reg)
	// Another hash: e.g. production overrides the CPU architecture.
	other := strings.Repeat("3", 64)
	_, err := Push(context.Background(), assembly(t, "production-assets", manifestAsset, other), layoutDir, reg.resolve)
	if err == nil || !strings.Contains(err.Error(), other) {
		t.Fatalf("want a refusal naming %s, got %v", other, err)
	}
	if _, err := remote.Head(reg.tag(t, "production-assets", other)); err == nil {
		t.Error("the unverified asset's tag exists in production")
	}
}

// layoutIndex reads the exported layout by asset hash.
type layoutIndex struct {
	index    v1.ImageIndex
	manifest *v1.IndexManifest
}

func newLayoutIndex(dir string) (*layoutIndex, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	return &layoutIndex{index: idx, manifest: m}, err
}

func (l *layoutIndex) digest(hash string) v1.Hash {
	for _, d := range l.manifest.Manifests {
		if d.Annotations[refName] == hash {
			return d.Digest
		}
	}
	return v1.Hash{}
}

func (l *layoutIndex) image(hash string) (v1.Image, error) {
	return l.index.Image(l.digest(hash))
}

func (l *layoutIndex) firstChild(hash string) (v1.Image, error) {
	idx, err := l.index.ImageIndex(l.digest(hash))
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	return idx.Image(m.Manifests[0].Digest)
}

// singleIndex is an index of one image.
func singleIndex(img v1.Image) v1.ImageIndex {
	return mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
}
