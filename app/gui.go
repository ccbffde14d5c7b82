package app

import (
	"context"

	"atelier/engine/service/runner"
	"atelier/ui"
)

// openStudio opens the studio window with the engine service of this
// process and its image writer (atomic, settings in the metadata).
func openStudio(ctx context.Context, opts ui.Options) error {
	return ui.RunWith(ctx, opts, ui.Services{
		Engine: ui.FromService(runner.New(nil)),
		Save:   runner.SaveImage,
	})
}
