//go:build winetest

package daemon

// underWine: the test binary was built for Wine (make test-windows).
const underWine = true
