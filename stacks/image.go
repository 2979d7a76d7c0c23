package stacks

import (
	"fmt"

	"github.com/fargo-cdk/fargo/internal/dockerfile"
)

// CheckImage checks the Dockerfile in dir, as `cdk deploy` builds the
// image asset (ServiceImage) for arch with buildArgs, against the build
// context it sends, with internal/dockerfile: a COPY of a file that
// .dockerignore leaves out, a shell-form ENTRYPOINT, a platform or GOARCH
// that is not arch's, a go build whose package is not in the context. It
// reads two files and lists the context, so synth can afford it, and a
// mistake that would fail the deploy's docker build, or the task at
// start, stops synth instead, one line per problem.
func CheckImage(dir string, arch Architecture, buildArgs map[string]string) error {
	ctx, err := dockerfile.ReadContext(dir, nil)
	if err != nil {
		return fmt.Errorf("the image's build context: %w", err)
	}
	_, err = dockerfile.Check(ctx, "Dockerfile", *arch.ImagePlatform().Platform(), buildArgs)
	return err
}
