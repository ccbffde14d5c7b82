package ui

import (
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
)

// tabActions are what the File and Run menus and their keyboard shortcuts
// do on one tab. Every method runs on the UI goroutine and must do nothing
// (or explain why not) when the action is unavailable, e.g. Export before
// there is a result.
type tabActions interface {
	// open asks for the tab's main image (Ctrl+O).
	open()
	// export saves the tab's result (Ctrl+S, Ctrl+E).
	export()
	// startStop starts the tab's job, or stops the one running
	// (Ctrl+Enter, F5).
	startStop()
}

// The studio's shortcuts. Those on menu items work even while a text field
// has the focus (the driver asks the main menu first); Ctrl+E and F5 are
// window shortcuts, which a focused text field keeps for itself.
var (
	shortcutOpen      = &desktop.CustomShortcut{KeyName: fyne.KeyO, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutExport    = &desktop.CustomShortcut{KeyName: fyne.KeyS, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutExportAlt = &desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutRun       = &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutRunKeypad = &desktop.CustomShortcut{KeyName: fyne.KeyEnter, Modifier: fyne.KeyModifierShortcutDefault}
)

// actions returns the actions of the tab shown.
func (s *studio) actions() tabActions {
	switch s.tabs.SelectedIndex() {
	case 1:
		if s.textureActs != nil {
			return s.textureActs
		}
		return paneActions{s, s.sample}
	case 2:
		if s.upscaleActs != nil {
			return s.upscaleActs
		}
		return paneActions{s, s.lowRes}
	}
	return styleActions{s}
}

// mainPane is the pane that Open and Open recent fill on the tab shown.
func (s *studio) mainPane() *pane {
	switch s.tabs.SelectedIndex() {
	case 1:
		return s.sample
	case 2:
		return s.lowRes
	}
	return s.content
}

// styleActions are the Style tab's actions.
type styleActions struct{ s *studio }

func (a styleActions) open() {
	if !a.s.content.open.Disabled() {
		a.s.choose(a.s.content)
	}
}

func (a styleActions) export() {
	if !a.s.sc.export.Disabled() {
		a.s.exportResult()
	}
}

func (a styleActions) startStop() {
	if a.s.sc.running != nil {
		a.s.stopJob()
		return
	}
	a.s.startJob()
}

// paneActions serve a tab that has registered no actions of its own: Open
// asks for the pane's image, the rest does nothing.
type paneActions struct {
	s *studio
	p *pane
}

func (a paneActions) open() {
	if !a.p.open.Disabled() {
		a.s.choose(a.p)
	}
}

func (paneActions) export()    {}
func (paneActions) startStop() {}

// buildMenu sets the window's main menu: File (Open, Open recent, Export)
// and Run (Start / Stop), each with its shortcut.
func (s *studio) buildMenu() {
	s.recentMenu = fyne.NewMenu("Open recent")
	openRecent := fyne.NewMenuItem("Open recent", nil)
	openRecent.ChildMenu = s.recentMenu
	open := fyne.NewMenuItem("Open…", func() { s.actions().open() })
	open.Shortcut = shortcutOpen
	export := fyne.NewMenuItem("Export…", func() { s.actions().export() })
	export.Shortcut = shortcutExport
	run := fyne.NewMenuItem("Start / Stop", func() { s.actions().startStop() })
	run.Shortcut = shortcutRun
	s.menu = fyne.NewMainMenu(
		fyne.NewMenu("File", open, openRecent, fyne.NewMenuItemSeparator(), export),
		fyne.NewMenu("Run", run),
	)
	s.refreshRecentMenu()
}

// refreshRecentMenu lists the recent images under File > Open recent.
func (s *studio) refreshRecentMenu() {
	var items []*fyne.MenuItem
	for _, f := range s.recent {
		items = append(items, fyne.NewMenuItem(filepath.Base(f)+"  —  "+filepath.Dir(f), func() { s.openRecent(f) }))
	}
	if len(items) == 0 {
		none := fyne.NewMenuItem("No recent images", nil)
		none.Disabled = true
		items = append(items, none)
	}
	s.recentMenu.Items = items
	s.window.SetMainMenu(s.menu)
}

// openRecent opens path into the tab's main pane.
func (s *studio) openRecent(path string) {
	p := s.mainPane()
	if p.open.Disabled() {
		s.busyNotice()
		return
	}
	s.load(p, path)
}

// busyNotice explains why an image cannot be opened now.
func (s *studio) busyNotice() {
	dialog.ShowInformation("Not now", "Stop the run before opening other images.", s.window)
}

// addShortcuts adds the window shortcuts that are not on a menu item.
func (s *studio) addShortcuts() {
	c := s.window.Canvas()
	c.AddShortcut(shortcutExportAlt, func(fyne.Shortcut) { s.actions().export() })
	c.AddShortcut(shortcutRunKeypad, func(fyne.Shortcut) { s.actions().startStop() })
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyF5 {
			s.actions().startStop()
		}
	})
}
