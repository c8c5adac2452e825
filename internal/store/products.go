package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/shop"
)

// ProductsEnsure makes sure every line's product exists (bare products for
// lines the catalog does not know; a catalog entry is never overwritten) and
// returns the products' ids by store-side id.
func ProductsEnsure(ctx context.Context, db DB, storeID int64, currency string, lines []shop.LineItem) (map[string]int64, error) {
	var ext, sku, title, cat []string
	var price []int64
	for _, l := range lines {
		if l.ProductID != "" {
			ext, sku, title, cat, price = append(ext, l.ProductID), append(sku, l.SKU), append(title, l.Title), append(cat, l.Category), append(price, l.UnitPriceMinor)
		}
	}
	ids := make(map[string]int64, len(ext))
	if len(ext) == 0 {
		return ids, nil
	}
	rows, err := db.Query(ctx, `SELECT external_id, id FROM remarket_products_ensure($1, $2, $3, $4, $5, $6, $7)`,
		storeID, currency, ext, sku, title, cat, price)
	if err != nil {
		return nil, fmt.Errorf("create products: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e string
		var id int64
		if err := rows.Scan(&e, &id); err != nil {
			return nil, fmt.Errorf("create products: %w", err)
		}
		ids[e] = id
	}
	return ids, rows.Err()
}

const productUpsertSQL = `INSERT INTO products (store_id, external_id, sku, title, url, image_url, category, price_minor, currency,
    in_stock, from_catalog, source_updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true, $11)
ON CONFLICT (store_id, external_id) DO UPDATE SET sku = EXCLUDED.sku, title = EXCLUDED.title, url = EXCLUDED.url,
    image_url = EXCLUDED.image_url, category = EXCLUDED.category, price_minor = EXCLUDED.price_minor,
    currency = EXCLUDED.currency, in_stock = EXCLUDED.in_stock, from_catalog = true,
    source_updated_at = EXCLUDED.source_updated_at, updated_at = now()
WHERE products.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
    OR products.source_updated_at < EXCLUDED.source_updated_at`

// ProductUpsert saves a catalog entry unless a newer one is stored.
func ProductUpsert(ctx context.Context, db DB, storeID int64, p *shop.Product) error {
	_, err := db.Exec(ctx, productUpsertSQL, storeID, p.ExternalID, p.SKU, p.Title, p.URL, p.ImageURL, p.Category,
		p.PriceMinor, p.Currency, p.InStock, nullTime(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save product %s: %w", p.ExternalID, err)
	}
	return nil
}

// Product is a stored catalog entry.
type Product struct {
	ID         int64  `json:"id"`
	ExternalID string `json:"external_id"`
	SKU        string `json:"sku"`
	Title      string `json:"title"`
	URL        string `json:"url"`
	ImageURL   string `json:"image_url"`
	Category   string `json:"category"`
	PriceMinor int64  `json:"price_minor"`
	Currency   string `json:"currency"`
	InStock    bool   `json:"in_stock"`
}

const productCols = `id, external_id, sku, title, url, image_url, category, price_minor, currency, in_stock`

func scanProduct(row interface{ Scan(...any) error }) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.ExternalID, &p.SKU, &p.Title, &p.URL, &p.ImageURL, &p.Category, &p.PriceMinor, &p.Currency, &p.InStock)
	return p, err
}

// ProductsByID returns the products with the given ids, keyed by id.
func ProductsByID(ctx context.Context, db DB, ids []int64) (map[int64]Product, error) {
	rows, err := db.Query(ctx, `SELECT `+productCols+` FROM products WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("get products: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]Product, len(ids))
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, fmt.Errorf("get products: %w", err)
		}
		out[p.ID] = p
	}
	return out, rows.Err()
}

// ProductsEach streams a store's products written by transactions at or
// after the horizon sinceXID (see ChangeHorizon; 0: all of them).
func ProductsEach(ctx context.Context, db DB, storeID int64, sinceXID uint64, fn func(Product) error) error {
	rows, err := db.Query(ctx, `SELECT `+productCols+` FROM products WHERE store_id = $1 AND changed_xid >= $2::bigint::text::xid8 ORDER BY id`,
		storeID, sinceXID)
	if err != nil {
		return fmt.Errorf("list products: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return fmt.Errorf("list products: %w", err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ProductFind finds a store's product by its SKU, the store's product id, or
// remarket's id, in that order.
func ProductFind(ctx context.Context, db DB, storeID int64, ref string) (Product, error) {
	row := db.QueryRow(ctx, `SELECT `+productCols+` FROM products WHERE store_id = $1
    AND (sku = $2 OR external_id = $2 OR id::text = $2)
ORDER BY sku = $2 DESC, external_id = $2 DESC LIMIT 1`, storeID, ref)
	p, err := scanProduct(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return productFindFolded(ctx, db, storeID, ref)
	}
	if err != nil {
		return Product{}, fmt.Errorf("find product %q: %w", ref, err)
	}
	return p, nil
}

// productFindFolded finds the one product whose SKU or store id equals ref
// but for case ("85123a" for 85123A), for an operator who typed it so; two
// such products are ambiguous, and then neither is found.
func productFindFolded(ctx context.Context, db DB, storeID int64, ref string) (Product, error) {
	rows, err := db.Query(ctx, `SELECT `+productCols+` FROM products WHERE store_id = $1
    AND (lower(sku) = lower($2) OR lower(external_id) = lower($2)) LIMIT 2`, storeID, ref)
	if err != nil {
		return Product{}, fmt.Errorf("find product %q: %w", ref, err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Product, error) { return scanProduct(r) })
	if err != nil {
		return Product{}, fmt.Errorf("find product %q: %w", ref, err)
	}
	if len(ps) != 1 {
		return Product{}, ErrNotFound
	}
	return ps[0], nil
}
