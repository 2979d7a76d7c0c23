package stacks

import (
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/fargo-cdk/fargo/internal/dockerfile"
)

// shopDir is the three-service fixture: a module with the app's own
// service (service/), api (a path; imports internal/shared, embeds a
// file) and admin (a host).
var shopDir = filepath.Join("testdata", "shop")

// shopServices is the fixture's services key.
const shopServices = `{
	"api": {"package": "./services/api", "paths": ["/api"], "priority": 100, "environment": {"MODE": "api"}},
	"admin": {"package": "./services/admin", "hosts": ["admin.example.com"], "priority": 200,
		"cpu": 512, "memoryMiB": 1024, "deploymentStrategy": "rolling", "minTasks": 1, "maxTasks": 2}
}`

// copyShop copies the fixture, with this repository's Dockerfile and
// .dockerignore, to dir: the images' build context. The files of the
// repository's build context that are not Go code, and that the fixture
// lacks, come too: the user's Dockerfile may COPY them (a settings file).
func copyShop(t *testing.T, dir string) string {
	t.Helper()
	err := filepath.WalkDir(shopDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(shopDir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dir, rel), string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Dockerfile", ".dockerignore"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(data))
	}
	repo, err := dockerfile.ReadContext(repoRoot, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range repo.Files {
		if strings.HasSuffix(f, ".go") || f == "go.mod" || f == "go.sum" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(data))
	}
	return dir
}

// shop is the fixture synthesized once, with cdk-nag and the validator,
// and shared by the tests that read it.
var shop *synthesized

func shopApp(t *testing.T) *synthesized {
	t.Helper()
	if shop == nil {
		dir, err := os.MkdirTemp("", "cdk.out-")
		if err != nil {
			t.Fatal(err)
		}
		// The build context lives in the output directory, which
		// TestMain removes.
		src := copyShop(t, filepath.Join(dir, "shop"))
		shop = synthIn(t, dir, map[string]any{"services": shopServices, imageRootKey: src}, nil)
		built["shop"] = shop
	}
	return shop
}

// quickSynth synthesizes services without cdk-nag and the validator, for
// the tests that compare templates only; the images come from the
// fixture.
func quickSynth(t *testing.T, services string) map[string]string {
	t.Helper()
	ctx := cdkContext(t)
	maps.Copy(ctx, testContext(t))
	ctx["aws:cdk:disable-asset-staging"] = true
	ctx["services"] = services
	cfg, err := loadConfig(ctx, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	mustNotPanic(t, func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir()), BuiltinCloudFormationValidation: jsii.Bool(false)})
		s := build(app, cfg, mustImages(t, shopRoot(t), cfg), false)
		all := []awscdk.Stack{s.Service.Stack}
		for _, st := range s.Services {
			all = append(all, st.Stack)
		}
		assembly := app.Synth(nil)
		for _, st := range all {
			b, err := json.Marshal(assembly.GetStackByName(st.StackName()).Template())
			if err != nil {
				t.Fatal(err)
			}
			out[*st.Node().Id()] = string(b)
		}
	})
	return out
}

// shopRoot is the fixture's build context of shopApp.
func shopRoot(t *testing.T) string {
	return imageRoot(shopApp(t).app)
}

func TestServicesFixture(t *testing.T) {
	s := shopApp(t)
	for _, id := range []string{"Service", "Service-admin", "Service-api"} {
		if s.templates[id] == nil {
			t.Fatalf("no stack %s: %v", id, slices.Sorted(maps.Keys(s.templates)))
		}
	}
	for _, st := range s.stacks.Services {
		if want := "fargo-" + *st.Node().Id(); *st.StackName() != want {
			t.Errorf("stack name %s, want %s", *st.StackName(), want)
		}
	}
	// Rules: api on its path, admin on its host, each test rule one below.
	api, admin := s.templates["Service-api"], s.templates["Service-admin"]
	has(t, api, "AWS::ElasticLoadBalancingV2::ListenerRule", map[string]any{"Priority": 100, "Conditions": []any{
		map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{"/api", "/api/*"}}}}})
	has(t, api, "AWS::ElasticLoadBalancingV2::ListenerRule", map[string]any{"Priority": 99})
	has(t, admin, "AWS::ElasticLoadBalancingV2::ListenerRule", map[string]any{"Priority": 200, "Conditions": []any{
		map[string]any{"Field": "host-header", "HostHeaderConfig": map[string]any{"Values": []any{"admin.example.com"}}}}})
	// Its own settings, its own environment only.
	has(t, admin, "AWS::ECS::TaskDefinition", map[string]any{"Cpu": "512", "Memory": "1024"})
	count(t, admin, "AWS::ElasticLoadBalancingV2::TargetGroup", 1) // rolling
	count(t, api, "AWS::ElasticLoadBalancingV2::TargetGroup", 2)
	if env := containerEnv(webContainerOf(t, api)); env["MODE"] != "api" {
		t.Errorf("api's environment %v, want MODE=api", env)
	}
	if env := containerEnv(webContainerOf(t, admin)); env["MODE"] != "" {
		t.Errorf("admin inherits api's environment: %v", env)
	}
	// Each has an image of its own, built with its package.
	images := map[string]bool{}
	for _, id := range []string{"Service", "Service-admin", "Service-api"} {
		images[compact(webContainerOf(t, s.templates[id])["Image"])] = true
	}
	if len(images) != 3 {
		t.Errorf("the three services share images: %v", images)
	}
	// No account-unique name is shared, and every other service's carries
	// its name.
	names := map[string]string{}
	for id, tpl := range s.templates {
		for _, r := range toJSON(t, tpl)["Resources"].(map[string]any) {
			for _, k := range []string{"AlarmName", "DashboardName", "Name", "Family", "LogGroupName", "FunctionName", "RoleName"} {
				n, literal := path(r, "Properties", k).(string)
				if !literal {
					continue
				}
				if other, dup := names[n]; dup {
					t.Errorf("%s %s in %s and %s", k, n, id, other)
				}
				names[n] = id
				if name, ok := strings.CutPrefix(id, "Service-"); ok && k != "Family" && !strings.Contains(n, "fargo-"+name) {
					t.Errorf("%s's %s %s does not carry its name", id, k, n)
				}
			}
		}
	}
	has(t, api, "AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "fargo-api-Target5xx"})
	has(t, api, "AWS::ECS::TaskDefinition", map[string]any{"Family": "fargo-api"})
	has(t, admin, "AWS::CloudWatch::Dashboard", map[string]any{"DashboardName": map[string]any{"Fn::Join": []any{"-", []any{"fargo-admin", map[string]any{"Ref": "AWS::Region"}}}}})
	// Each imports only what the app's own Service stack imports.
	for _, id := range []string{"Service-admin", "Service-api"} {
		if a, b := importNames(t, s, id), importNames(t, s, "Service"); !slices.Equal(a, b) {
			t.Errorf("%s imports %v, the app's own Service %v", id, a, b)
		}
	}
	// The app's own Service stack, and the shared ones, are those of an
	// app without services (whose templates TestSnapshots pins).
	for _, id := range stackNames {
		// The images differ in their content hash: the fixture's context is
		// not this repository.
		masked := func(s *synthesized) string {
			return assetHash.ReplaceAllString(compact(toJSON(t, s.templates[id])), "<asset-hash>")
		}
		if masked(s) != masked(defaults(t)) {
			t.Errorf("services change the %s stack", id)
		}
	}
}

// webContainerOf is the task definition's container in tpl.
func webContainerOf(t *testing.T, tpl interface {
	ToJSON() *map[string]any
}) map[string]any {
	t.Helper()
	for _, r := range (*tpl.ToJSON())["Resources"].(map[string]any) {
		if path(r, "Type") == "AWS::ECS::TaskDefinition" {
			return path(r, "Properties", "ContainerDefinitions", 0).(map[string]any)
		}
	}
	t.Fatal("no task definition")
	return nil
}

// TestServicesAddRemoveReorder: adding a service, removing one and
// reordering the services leave every other Service template as it was,
// byte for byte: no priority, name or logical id moves. The JSON object's
// own order does not survive parsing, so the reordering that matters is
// of the sorted list: the added service's name sorts first and the
// removed one's in the middle, which moves every other service's position.
func TestServicesAddRemoveReorder(t *testing.T) {
	const (
		accounts = `"accounts": {"package": "./services/api", "paths": ["/accounts"], "priority": 300}`
		api      = `"api": {"package": "./services/api", "paths": ["/api"], "priority": 100}`
		admin    = `"admin": {"package": "./services/admin", "hosts": ["admin.example.com"], "priority": 200}`
	)
	before := quickSynth(t, "{"+admin+", "+api+"}")
	added := quickSynth(t, "{"+api+", "+accounts+", "+admin+"}")
	removed := quickSynth(t, "{"+accounts+", "+api+"}")
	for _, id := range []string{"Service", "Service-admin", "Service-api"} {
		if added[id] != before[id] {
			t.Errorf("adding accounts, first in the sorted list, changes %s", id)
		}
	}
	for _, id := range []string{"Service", "Service-accounts", "Service-api"} {
		if removed[id] != added[id] {
			t.Errorf("removing admin, between accounts and api, changes %s", id)
		}
	}
	if _, ok := removed["Service-admin"]; ok {
		t.Error("a removed service keeps its stack in the app")
	}
}

// shopHashes returns the image asset hash of each of the fixture's
// services at dir ("" is the app's own), as NewImages makes them.
func shopHashes(t *testing.T, dir string, cfg Config) map[string]string {
	t.Helper()
	hashes := map[string]string{}
	mustNotPanic(t, func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		stack := awscdk.NewStack(app, jsii.String("Assets"), nil)
		own := awsecrassets.NewDockerImageAsset(stack, jsii.String("Own"), &awsecrassets.DockerImageAssetProps{
			Directory: jsii.String(dir),
			Platform:  cfg.CpuArchitecture.ImagePlatform(),
			Exclude:   jsii.Strings(servicesDir),
		})
		hashes[""] = *own.AssetHash()
		for _, s := range cfg.Services {
			a, err := newServiceAsset(dir, s)
			if err != nil {
				t.Fatal(err)
			}
			asset := awsecrassets.NewDockerImageAsset(stack, jsii.String(s.Name), &awsecrassets.DockerImageAssetProps{
				Directory: jsii.String(a.dir),
				Platform:  s.Config.CpuArchitecture.ImagePlatform(),
				BuildArgs: a.buildArgs,
				Exclude:   a.exclude,
			})
			hashes[s.Name] = *asset.AssetHash()
		}
	})
	return hashes
}

// TestServicesImageHash: each service's image changes with what its
// binary is built from, and with nothing else. The app's own image is the
// whole module but services/ (ServiceImage), so a shared package rebuilds
// it too.
func TestServicesImageHash(t *testing.T) {
	cfg, err := servicesConfig(t, shopServices, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := shopHashes(t, copyShop(t, t.TempDir()), cfg)
	tests := []struct {
		file    string
		changes []string // the services whose image changes; "" is the app's own
	}{
		{"services/api/main.go", []string{"api"}},
		{"services/api/static/version.txt", []string{"api"}}, // embedded
		{"services/api/static/unused.txt", nil},              // not embedded
		{"services/api/main_test.go", nil},
		{"services/api/main_windows.go", nil}, // another GOOS
		{"services/admin/main.go", []string{"admin"}},
		{"internal/shared/shared.go", []string{"", "api"}}, // api imports it, admin does not
		{"service/main.go", []string{""}},
		{"go.mod", []string{"", "admin", "api"}},
		{"README.md", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := copyShop(t, t.TempDir())
			p := filepath.Join(dir, tt.file)
			if _, err := os.Stat(p); err == nil {
				appendFile(t, p, "\n")
			} else {
				writeFile(t, p, "package main\n")
			}
			var changed []string
			for name, h := range shopHashes(t, dir, cfg) {
				if h != base[name] {
					changed = append(changed, name)
				}
			}
			slices.Sort(changed)
			if !slices.Equal(changed, tt.changes) {
				t.Errorf("editing %s changes the images of %q, want %q", tt.file, changed, tt.changes)
			}
		})
	}
}

// TestServicesImageBuilds builds each package service's staged build
// context as cdk deploy stages it, offline, with the Dockerfile's go build
// of its PACKAGE; the control, api's context without the shared package
// it imports, must fail.
func TestServicesImageBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the services; skipped with -short")
	}
	cfg, err := servicesConfig(t, shopServices, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := copyShop(t, t.TempDir())
	stage := func(t *testing.T, s Service, exclude ...string) string {
		outdir := t.TempDir()
		ctx := cdkContext(t)
		delete(ctx, "aws:cdk:disable-asset-staging")
		a, err := newServiceAsset(dir, s)
		if err != nil {
			t.Fatal(err)
		}
		mustNotPanic(t, func() {
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir)})
			stack := awscdk.NewStack(app, jsii.String("Service"), nil)
			taskDef := awsecs.NewFargateTaskDefinition(stack, jsii.String("TaskDefinition"), nil)
			taskDef.AddContainer(jsii.String("Web"), &awsecs.ContainerDefinitionOptions{Image: awsecs.ContainerImage_FromAsset(jsii.String(a.dir), &awsecs.AssetImageProps{
				BuildArgs: a.buildArgs,
				Exclude:   jsii.Strings(append(derefAll(a.exclude), exclude...)...),
			})})
			app.Synth(nil)
		})
		for _, image := range imageAssets(t, outdir) {
			return filepath.Join(outdir, image.Directory)
		}
		t.Fatal("no image asset")
		return ""
	}
	modcache := t.TempDir() // the fixture imports the standard library only
	for _, s := range cfg.Services {
		t.Run(s.Name, func(t *testing.T) {
			staged := stage(t, s)
			if out, err := buildStaged(t, staged, s.Package, modcache); err != nil {
				t.Errorf("go build %s in its staged context: %v\n%s", s.Package, err, out)
			}
			var files []string
			filepath.WalkDir(staged, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(staged, p)
					files = append(files, filepath.ToSlash(rel))
				}
				return err
			})
			for _, f := range files {
				if strings.HasPrefix(f, "service/") || (s.Name == "admin" && strings.HasPrefix(f, "internal/")) || strings.HasPrefix(f, "services/") && !strings.HasPrefix(f, "services/"+s.Name+"/") {
					t.Errorf("%s's context holds %s, which its binary is not built from", s.Name, f)
				}
			}
		})
	}
	t.Run("control: api without internal/shared", func(t *testing.T) {
		staged := stage(t, cfg.Services[slices.IndexFunc(cfg.Services, func(s Service) bool { return s.Name == "api" })], "internal")
		out, err := buildStaged(t, staged, "./services/api", modcache)
		if err == nil || !strings.Contains(out, "internal/shared") {
			t.Errorf("go build succeeded or failed for another reason: %v\n%s", err, out)
		}
	})
}

// buildStaged runs, offline, the go build that the Dockerfile in the
// staged context runs for linux/arm64 with PACKAGE=pkg, as
// TestImageAssetBuilds does for the app's own image.
func buildStaged(t *testing.T, staged, pkg, modcache string) (string, error) {
	t.Helper()
	ctx, err := dockerfile.ReadContext(staged, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := dockerfile.Check(ctx, "Dockerfile", "linux/arm64", map[string]string{"PACKAGE": pkg})
	if err != nil {
		return "", err
	}
	dir, err := img.Build.Stage(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return goBuild(buildCommand{dir, img.Build}, filepath.Join(t.TempDir(), "service"), modcache)
}

func derefAll(p *[]*string) []string {
	var out []string
	if p != nil {
		for _, s := range *p {
			out = append(out, *s)
		}
	}
	return out
}

// TestServicesValidatorAndCdkNag: the built-in validator and cdk-nag find
// nothing in any of the fixture's stacks, the other services' included.
func TestServicesValidatorAndCdkNag(t *testing.T) {
	s := shopApp(t)
	for _, f := range validationFindings(t, s.outdir) {
		t.Errorf("built-in validator: %s", f)
	}
	for _, st := range s.all() {
		for _, a := range annotations(t, st) {
			t.Errorf("%s", a)
		}
	}
}

// TestServicesContract runs the contract checks of the user's deployment
// (deployment_test.go) on every service of the fixture: each holds for
// each service's own stack, with its own settings (admin's are rolling,
// one to two tasks).
func TestServicesContract(t *testing.T) {
	s := shopApp(t)
	if n := len(serviceDeployments(t, s)); n != 3 {
		t.Fatalf("%d services, want 3", n)
	}
	eachService(t, checkHealthCheckAndPort, s)
	eachService(t, func(t *testing.T, _ Config, all map[string]map[string]any) { checkDrainArithmetic(t, all) }, s)
	eachService(t, checkSpotStrategy, s)
	eachService(t, checkAlarms, s)
}

// TestServicesImageRefusals: a replace directive that points outside the
// module, a package that is not main, and a directory without a
// Dockerfile stop synth with one line naming the service's key.
func TestServicesImageRefusals(t *testing.T) {
	root := t.TempDir()
	shop := copyShop(t, filepath.Join(root, "shop"))
	writeFile(t, filepath.Join(root, "lib", "go.mod"), "module example.com/lib\n\ngo 1.26.0\n")
	writeFile(t, filepath.Join(root, "lib", "lib.go"), "// Package lib is outside the shop's module.\npackage lib\n\n// Name names it.\nconst Name = \"lib\"\n")
	writeFile(t, filepath.Join(shop, "go.mod"), "module example.com/shop\n\ngo 1.26.0\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n")
	writeFile(t, filepath.Join(shop, "services", "uses", "main.go"), "package main\n\nimport \"example.com/lib\"\n\nfunc main() { println(lib.Name) }\n")
	tests := []struct{ services, want string }{
		{`{"uses": {"package": "./services/uses", "paths": ["/uses"], "priority": 100}}`, `services.uses.package="./services/uses": imports example.com/lib, which a replace directive in go.mod points to ../lib, outside this module`},
		{`{"shared": {"package": "./internal/shared", "paths": ["/shared"], "priority": 100}}`, `services.shared.package="./internal/shared": want a main package`},
		{`{"web": {"directory": "./web", "paths": ["/web"], "priority": 100}}`, `services.web.directory="./web": want a directory holding a Dockerfile`},
	}
	for _, tt := range tests {
		cfg, err := servicesConfig(t, tt.services, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewImages(shop, cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got %v\nwant one line containing %s", tt.services, err, tt.want)
		}
	}
}

// TestServicesRootSettingsFile: a settings file at the root that the
// Dockerfile copies and a "!" line of .dockerignore keeps (the
// walkthrough's notes.yaml) is in every package service's build context,
// since the one Dockerfile copies it for each; one in a subdirectory is
// not, and stops synth naming the file and the exclude that drops it.
func TestServicesRootSettingsFile(t *testing.T) {
	shop := copyShop(t, t.TempDir())
	for _, f := range []string{"settings.yaml", "config/more.yaml"} {
		writeFile(t, filepath.Join(shop, f), "mode: shop\n")
	}
	appendFile(t, filepath.Join(shop, ".dockerignore"), "\n!settings.yaml\n")
	appendFile(t, filepath.Join(shop, "Dockerfile"), "\nCOPY settings.yaml /etc/settings.yaml\n")
	cfg, err := servicesConfig(t, shopServices, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewImages(shop, cfg); err != nil {
		t.Errorf("a root settings file that .dockerignore keeps: %v", err)
	}
	appendFile(t, filepath.Join(shop, "Dockerfile"), "COPY config/more.yaml /etc/more.yaml\n")
	_, err = NewImages(shop, cfg)
	if err == nil || !strings.Contains(err.Error(), `COPY config/more.yaml`) || !strings.Contains(err.Error(), `the asset's exclude "config" leaves config/more.yaml out`) {
		t.Errorf("a Dockerfile that copies a file of a subdirectory: %v, want it refused naming the file and the exclude", err)
	}
}
