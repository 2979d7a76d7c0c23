package stacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/fargo-cdk/fargo/internal/dockerfile"
)

// servicesDir is where the services of services keep their code, by
// convention: the app's own image leaves it out, so that editing another
// service does not rebuild the app's own.
const servicesDir = "services"

// Images are the container images of the app's services, each a CDK
// Docker asset built by `cdk deploy`.
type Images struct {
	// Own is the app's own service's image.
	Own awsecs.ContainerImage
	// Services are the images of the services of services, by name.
	Services map[string]awsecs.ContainerImage
}

// NewImages makes every service's image from the repository at root: the
// app's own from the Dockerfile there (ServiceImage), a service with a
// package from the same Dockerfile with PACKAGE set and a build context of
// only what its binary is built from (packageFiles), and a service with a
// directory from that directory's own Dockerfile.
//
// Each image's Dockerfile is checked first against the build context its
// asset sends (CheckImage), so a mistake that would fail the deploy's
// docker build stops synth instead.
func NewImages(root string, cfg Config) (*Images, error) {
	if err := CheckImage(root, cfg.CpuArchitecture, nil, []string{servicesDir}); err != nil {
		return nil, err
	}
	images := &Images{Own: ServiceImage(root, cfg.CpuArchitecture), Services: map[string]awsecs.ContainerImage{}}
	// One go list per architecture for all the services' packages: one
	// per service cost about 0.1 s each (docs/performance.md).
	byArch := map[Architecture][]string{}
	for _, s := range cfg.Services {
		if s.Package != "" {
			byArch[s.Config.CpuArchitecture] = append(byArch[s.Config.CpuArchitecture], s.Package)
		}
	}
	listed := map[Architecture]map[string]listedFiles{}
	for arch, pkgs := range byArch {
		l, err := listPackages(root, pkgs, arch)
		if err != nil {
			return nil, err
		}
		listed[arch] = l
	}
	for _, s := range cfg.Services {
		files := listed[s.Config.CpuArchitecture][s.Package]
		a, err := serviceAssetOf(root, s, files.keep, files.err)
		if err != nil {
			return nil, err
		}
		if err := CheckImage(a.dir, s.Config.CpuArchitecture, derefMap(a.buildArgs), derefStrings(a.exclude)); err != nil {
			return nil, fmt.Errorf("services.%s: %w", s.Name, err)
		}
		images.Services[s.Name] = awsecs.ContainerImage_FromAsset(jsii.String(a.dir), &awsecs.AssetImageProps{
			Platform:  s.Config.CpuArchitecture.ImagePlatform(),
			BuildArgs: a.buildArgs,
			Exclude:   a.exclude,
		})
	}
	return images, nil
}

// serviceAsset is where a service's image is built from: the directory
// (build context) with its Dockerfile, the build arguments and what of
// the directory the context leaves out, besides its .dockerignore.
type serviceAsset struct {
	dir       string
	buildArgs *map[string]*string
	exclude   *[]*string
}

func newServiceAsset(root string, s Service) (serviceAsset, error) {
	var keep map[string]bool
	var err error
	if s.Package != "" {
		keep, err = packageFiles(root, s.Package, s.Config.CpuArchitecture)
	}
	return serviceAssetOf(root, s, keep, err)
}

// serviceAssetOf is newServiceAsset with the package's files (or why they
// could not be listed) already listed.
func serviceAssetOf(root string, s Service, keep map[string]bool, listErr error) (serviceAsset, error) {
	if s.Directory != "" {
		dir := filepath.Join(root, s.Directory)
		if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err != nil {
			return serviceAsset{}, &ConfigError{Key: "services." + s.Name + ".directory", Value: s.Directory, Allowed: "want a directory holding a Dockerfile: " + err.Error()}
		}
		return serviceAsset{dir: dir}, nil
	}
	if listErr != nil {
		return serviceAsset{}, &ConfigError{Key: "services." + s.Name + ".package", Value: s.Package, Allowed: listErr.Error()}
	}
	if err := keepRootFiles(root, keep); err != nil {
		return serviceAsset{}, err
	}
	exclude, err := excludeAllBut(root, keep)
	if err != nil {
		return serviceAsset{}, err
	}
	return serviceAsset{
		dir:       root,
		buildArgs: &map[string]*string{"PACKAGE": jsii.String(s.Package)},
		exclude:   jsii.Strings(exclude...),
	}, nil
}

// ServiceImage builds the image from the Dockerfile in dir as a CDK asset
// for arch, the tasks' architecture (Config.CpuArchitecture), whatever the
// build machine's: an image built for the laptop's own architecture would
// fail on the other with "exec format error". `cdk deploy` builds it and
// pushes it to the bootstrap ECR repository. The services directory stays
// out of its build context (servicesDir).
func ServiceImage(dir string, arch Architecture) awsecs.ContainerImage {
	return awsecs.ContainerImage_FromAsset(jsii.String(dir), &awsecs.AssetImageProps{
		Platform: arch.ImagePlatform(),
		Exclude:  jsii.Strings(servicesDir),
	})
}

// listedPackage is what listPackages reads of `go list -json`.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Standard   bool
	DepOnly    bool
	Deps       []string
	GoFiles    []string
	EmbedFiles []string
	Module     *struct {
		Path    string
		Main    bool
		Replace *struct{ Path string }
	}
	Error *struct{ Err string }
}

// packageFiles lists, relative to root, every file that building pkg for
// linux/arch reads from the module at root: the Go files (for that
// platform, without cgo, as the Dockerfile builds) and embedded files of
// pkg and every package of the module it imports, go.mod, go.sum, and the
// Dockerfile and .dockerignore that build it. Other modules' packages
// come from the module proxy at build time; one that a replace directive
// points to a local directory is refused, since the build context holds
// only this module.
func packageFiles(root, pkg string, arch Architecture) (map[string]bool, error) {
	listed, err := listPackages(root, []string{pkg}, arch)
	if err != nil {
		return nil, err
	}
	return listed[pkg].keep, listed[pkg].err
}

// listedFiles is what packageFiles returns for one package.
type listedFiles struct {
	keep map[string]bool
	err  error
}

// listPackages is packageFiles for several packages, by package, from one
// go list.
func listPackages(root string, pkgs []string, arch Architecture) (map[string]listedFiles, error) {
	goarch := "arm64"
	if arch == X86_64 {
		goarch = "amd64"
	}
	cmd := exec.Command("go", append([]string{"list", "-e", "-deps", "-json=ImportPath,Name,Dir,Standard,DepOnly,Deps,GoFiles,EmbedFiles,Module,Error"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %v: %s", strings.Join(pkgs, " "), err, strings.TrimSpace(stderr.String()))
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	// Every package once, in go list's order: dependencies first.
	var all []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		all = append(all, p)
	}
	listed := map[string]listedFiles{}
	for _, pkg := range pkgs {
		i := slices.IndexFunc(all, func(p listedPackage) bool {
			return !p.DepOnly && (p.Dir == filepath.Join(abs, pkg) || p.ImportPath == pkg)
		})
		if i < 0 {
			listed[pkg] = listedFiles{err: fmt.Errorf("go list %s: not listed", pkg)}
			continue
		}
		keep, err := filesOf(abs, all, all[i])
		listed[pkg] = listedFiles{keep: keep, err: err}
	}
	return listed, nil
}

// filesOf is packageFiles for target, from all the packages go list
// listed.
func filesOf(abs string, all []listedPackage, target listedPackage) (map[string]bool, error) {
	keep := map[string]bool{"go.mod": true, "go.sum": true, "Dockerfile": true, ".dockerignore": true}
	deps := map[string]bool{target.ImportPath: true}
	for _, d := range target.Deps {
		deps[d] = true
	}
	for _, p := range all {
		switch {
		case !deps[p.ImportPath]:
			continue
		case p.Error != nil:
			return nil, fmt.Errorf("want a main package of this module that builds: %s", p.Error.Err)
		case p.Standard || p.Module == nil:
			continue
		case !p.Module.Main && p.Module.Replace != nil && isLocalPath(p.Module.Replace.Path):
			return nil, fmt.Errorf("imports %s, which a replace directive in go.mod points to %s, outside this module and so outside the image's build context: publish that module, or move the package into this module", p.ImportPath, p.Module.Replace.Path)
		case !p.Module.Main:
			continue
		}
		dir, err := filepath.Rel(abs, p.Dir)
		if err != nil || strings.HasPrefix(dir, "..") {
			return nil, fmt.Errorf("package %s is in %s, outside %s", p.ImportPath, p.Dir, abs)
		}
		for _, f := range slices.Concat(p.GoFiles, p.EmbedFiles) {
			keep[filepath.ToSlash(filepath.Join(dir, f))] = true
		}
	}
	if target.Name != "main" {
		return nil, fmt.Errorf("want a main package (package main, with func main), found package %s", target.Name)
	}
	return keep, nil
}

// keepRootFiles adds to keep the files at root that .dockerignore leaves
// in the build context, other than Go code: the repository's
// .dockerignore drops every other kind of file at the root, so one it
// keeps is a file the user's Dockerfile copies (a settings file that a
// "!notes.yaml" line keeps), which the shared Dockerfile copies for every
// service. A file in a subdirectory is not kept: a Dockerfile that copies
// one stops synth, naming it (CheckImage).
func keepRootFiles(root string, keep map[string]bool) error {
	ctx, err := dockerfile.ReadContext(root, nil)
	if err != nil {
		return err
	}
	for _, f := range ctx.Files {
		if !strings.Contains(f, "/") && !strings.HasSuffix(f, ".go") {
			keep[f] = true
		}
	}
	return nil
}

// isLocalPath reports whether a replace directive's target is a directory
// rather than a module path.
func isLocalPath(p string) bool {
	return strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || filepath.IsAbs(p)
}

// excludeAllBut returns the asset exclude patterns (Docker's .dockerignore
// syntax, which CDK applies after the .dockerignore file) that leave only
// keep of the tree at root: each directory holding nothing to keep is
// excluded whole, without reading it, every other file one by one.
func excludeAllBut(root string, keep map[string]bool) ([]string, error) {
	dirs := map[string]bool{}
	for f := range keep {
		for d := filepath.ToSlash(filepath.Dir(f)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
			dirs[d] = true
		}
	}
	var exclude []string
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := os.ReadDir(filepath.Join(root, rel))
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := e.Name()
			if rel != "" {
				p = rel + "/" + p
			}
			switch {
			case e.IsDir() && dirs[p]:
				if err := walk(p); err != nil {
					return err
				}
			case !keep[p]:
				exclude = append(exclude, escapePattern(p))
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	return exclude, nil
}

// escapePattern quotes the characters a .dockerignore pattern treats as
// special.
func escapePattern(p string) string {
	var b strings.Builder
	for _, c := range p {
		if strings.ContainsRune(`*?[]\!`, c) {
			b.WriteRune('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// CheckImage checks the Dockerfile in dir, as `cdk deploy` builds an image
// asset for arch with buildArgs and the asset's excludes, against the build
// context it sends, with internal/dockerfile: a COPY of a file that
// .dockerignore or an exclude leaves out, a shell-form ENTRYPOINT, a
// platform or GOARCH that is not arch's, a go build whose package is not in
// the context. It reads two files and lists the context, so synth can
// afford it, and a mistake that would fail the deploy's docker build, or
// the task at start, stops synth instead, one line per problem.
func CheckImage(dir string, arch Architecture, buildArgs map[string]string, excludes []string) error {
	ctx, err := dockerfile.ReadContext(dir, excludes)
	if err != nil {
		return fmt.Errorf("the image's build context: %w", err)
	}
	_, err = dockerfile.Check(ctx, "Dockerfile", *arch.ImagePlatform().Platform(), buildArgs)
	return err
}

func derefMap(m *map[string]*string) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range *m {
		out[k] = *v
	}
	return out
}

func derefStrings(s *[]*string) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(*s))
	for i, v := range *s {
		out[i] = *v
	}
	return out
}
