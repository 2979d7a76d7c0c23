// Package promote carries the container images that one environment ran
// into another environment's CDK asset repository, digest for digest, so
// that promoting a release never rebuilds its image.
//
// CDK tags an image asset with the hash of its source, the bootstrap
// repositories' tags are immutable, and publishing skips a tag that is
// already there. A rebuild in production's account would take whatever a
// moved base-image tag points to by then, under the same tag, silently.
// Export reads what staging's repository holds under the asset's tag, by
// digest, into an OCI image layout; Push writes that layout to
// production's repository under the same tag before `cdk deploy`, which
// then finds the tag and builds nothing. Push refuses a tag that already
// holds another digest.
package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refName is the OCI layout annotation that names each exported image:
// the CDK asset's id, the hash of its source, which is also its tag.
const refName = "org.opencontainers.image.ref.name"

// Image is one container image asset of a cloud assembly at one of its
// destinations, as the assembly's asset manifests (*.assets.json) say.
type Image struct {
	// Hash is the asset's id: the hash of its source and build options.
	Hash        string
	DisplayName string
	// Repository and Tag are the destination's repositoryName and
	// imageTag; Region and AssumeRoleArn may hold CloudFormation-style
	// placeholders (${AWS::AccountId}, ...) for an environment-agnostic
	// stack, as cdk-assets reads them.
	Repository, Tag, Region, AssumeRoleArn string
}

// Images lists the container image assets of the cloud assembly in dir
// (one environment's assembly, e.g. cdk.out/assembly-staging), ordered by
// hash, each destination once.
func Images(dir string) ([]Image, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.assets.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no asset manifests (*.assets.json): not a cloud assembly", dir)
	}
	var images []Image
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var m struct {
			DockerImages map[string]struct {
				DisplayName  string `json:"displayName"`
				Destinations map[string]struct {
					RepositoryName string `json:"repositoryName"`
					ImageTag       string `json:"imageTag"`
					Region         string `json:"region"`
					AssumeRoleArn  string `json:"assumeRoleArn"`
				} `json:"destinations"`
			} `json:"dockerImages"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for hash, a := range m.DockerImages {
			for _, d := range a.Destinations {
				img := Image{Hash: hash, DisplayName: a.DisplayName, Repository: d.RepositoryName, Tag: d.ImageTag, Region: d.Region, AssumeRoleArn: d.AssumeRoleArn}
				if !slices.Contains(images, img) {
					images = append(images, img)
				}
			}
		}
	}
	slices.SortFunc(images, func(a, b Image) int { return strings.Compare(a.Hash+a.Repository, b.Hash+b.Repository) })
	return images, nil
}

// Resolver says where an image asset's destination is, as a tag in a
// registry, and how to reach it.
type Resolver func(ctx context.Context, img Image) (name.Tag, []remote.Option, error)

// Exported is one image written to the layout: the asset and the digest
// of what its tag held, an index or a single manifest.
type Exported struct {
	Hash      string
	Digest    v1.Hash
	MediaType types.MediaType
}

// Export writes every image asset of the assembly in assemblyDir, as its
// destination's tag holds it, to a new OCI image layout in layoutDir,
// each image annotated with its asset hash. It reads the tag's digest
// first and then the image by that digest, and keeps indexes as indexes:
// the layout holds exactly the bytes the environment ran.
func Export(ctx context.Context, assemblyDir, layoutDir string, resolve Resolver) ([]Exported, error) {
	images, err := Images(assemblyDir)
	if err != nil {
		return nil, err
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("%s: no container image assets to export", assemblyDir)
	}
	p, err := layout.Write(layoutDir, empty.Index)
	if err != nil {
		return nil, err
	}
	var out []Exported
	for _, img := range images {
		if slices.ContainsFunc(out, func(e Exported) bool { return e.Hash == img.Hash }) {
			return nil, fmt.Errorf("%s: image asset %s has several destinations: promote from an assembly with one", assemblyDir, img.Hash)
		}
		tag, opts, err := resolve(ctx, img)
		if err != nil {
			return nil, err
		}
		e, err := exportOne(ctx, p, img.Hash, tag, opts)
		if err != nil {
			return nil, fmt.Errorf("export %s (%s): %w", tag, img.DisplayName, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func exportOne(ctx context.Context, p layout.Path, hash string, tag name.Tag, opts []remote.Option) (Exported, error) {
	opts = append(opts, remote.WithContext(ctx))
	head, err := remote.Head(tag, opts...)
	if err != nil {
		return Exported{}, err
	}
	// By digest from here on: what is written is what the tag held when
	// read, whatever happens to the tag (immutable in CDK's repositories).
	desc, err := remote.Get(tag.Digest(head.Digest.String()), opts...)
	if err != nil {
		return Exported{}, err
	}
	ann := layout.WithAnnotations(map[string]string{refName: hash})
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return Exported{}, err
		}
		err = p.AppendIndex(idx, ann)
		if err != nil {
			return Exported{}, err
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return Exported{}, err
		}
		if err := p.AppendImage(img, ann); err != nil {
			return Exported{}, err
		}
	default:
		return Exported{}, fmt.Errorf("%s holds %s, neither an image nor an index", tag, desc.MediaType)
	}
	return Exported{Hash: hash, Digest: desc.Digest, MediaType: desc.MediaType}, nil
}

// Push writes each image asset of the assembly in assemblyDir from the
// layout in layoutDir to its destination, under the asset's tag, before
// `cdk deploy` would build it. Every asset must be in the layout: an image
// the earlier environment did not run is refused, not built. A tag that
// already holds the same digest is left as it is (a re-run, a rollback);
// one that holds another digest, or an index where the layout has a
// single manifest or the other way round, fails naming both.
func Push(ctx context.Context, assemblyDir, layoutDir string, resolve Resolver) ([]Exported, error) {
	images, err := Images(assemblyDir)
	if err != nil {
		return nil, err
	}
	p, err := layout.FromPath(layoutDir)
	if err != nil {
		return nil, err
	}
	index, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Exported
	for _, img := range images {
		i := slices.IndexFunc(manifest.Manifests, func(d v1.Descriptor) bool { return d.Annotations[refName] == img.Hash })
		if i < 0 {
			return nil, fmt.Errorf("image asset %s (%s) is not in %s: the earlier environment did not run it (a different source, platform or build argument gives another hash); refusing to build it here", img.Hash, img.DisplayName, layoutDir)
		}
		tag, opts, err := resolve(ctx, img)
		if err != nil {
			return nil, err
		}
		want := manifest.Manifests[i]
		if err := pushOne(ctx, index, want, tag, append(opts, remote.WithContext(ctx))); err != nil {
			return nil, fmt.Errorf("push %s (%s): %w", tag, img.DisplayName, err)
		}
		out = append(out, Exported{Hash: img.Hash, Digest: want.Digest, MediaType: want.MediaType})
	}
	return out, nil
}

func pushOne(ctx context.Context, index v1.ImageIndex, want v1.Descriptor, tag name.Tag, opts []remote.Option) error {
	have, err := remote.Head(tag, opts...)
	switch {
	case err == nil:
		return same(*have, want)
	case !notFound(err):
		return err
	}
	switch {
	case want.MediaType.IsIndex():
		idx, err := index.ImageIndex(want.Digest)
		if err != nil {
			return err
		}
		err = remote.WriteIndex(tag, idx, opts...)
		if err != nil {
			return err
		}
	case want.MediaType.IsImage():
		img, err := index.Image(want.Digest)
		if err != nil {
			return err
		}
		if err := remote.Write(tag, img, opts...); err != nil {
			return err
		}
	default:
		return fmt.Errorf("the layout holds %s, neither an image nor an index", want.MediaType)
	}
	// What the registry now answers for the tag, not what was sent.
	have, err = remote.Head(tag, opts...)
	if err != nil {
		return err
	}
	return same(*have, want)
}

// same fails unless the tag holds the wanted digest. Digests are of the
// top-level manifests, so an index compares with an index and a single
// manifest with a single manifest: a platform's manifest inside an index
// is not the index.
func same(have, want v1.Descriptor) error {
	if have.Digest != want.Digest {
		return fmt.Errorf("the tag holds %s %s (%s), promoting %s %s (%s): refusing to deploy an image that was not verified (the tag is immutable: something else got there first)", kind(have.MediaType), have.Digest, have.MediaType, kind(want.MediaType), want.Digest, want.MediaType)
	}
	return nil
}

func kind(mt types.MediaType) string {
	if mt.IsIndex() {
		return "index"
	}
	return "manifest"
}

func notFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
