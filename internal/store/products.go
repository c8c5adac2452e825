package store

import (
	"context"
	"fmt"

	"github.com/remarket/remarket/internal/shop"
)

// productEnsureSQL creates bare products for order lines the catalog does not
// know yet; a catalog entry (from_catalog) is never overwritten by a line.
const productEnsureSQL = `INSERT INTO products (store_id, external_id, sku, title, category, price_minor, currency)
SELECT $1, e, s, t, c, p, $7 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(e, s, t, c, p)
ON CONFLICT (store_id, external_id) DO NOTHING`

const productIDsSQL = `SELECT external_id, id FROM products WHERE store_id = $1 AND external_id = ANY($2)`

// ProductsEnsure makes sure every line's product exists and returns the
// products' ids by store-side id.
func ProductsEnsure(ctx context.Context, db DB, storeID int64, currency string, lines []shop.LineItem) (map[string]int64, error) {
	seen := map[string]bool{}
	var ext, sku, title, cat []string
	var price []int64
	for _, l := range lines {
		if l.ProductID == "" || seen[l.ProductID] {
			continue
		}
		seen[l.ProductID] = true
		ext, sku, title, cat, price = append(ext, l.ProductID), append(sku, l.SKU), append(title, l.Title), append(cat, l.Category), append(price, l.UnitPriceMinor)
	}
	if len(ext) == 0 {
		return map[string]int64{}, nil
	}
	if _, err := db.Exec(ctx, productEnsureSQL, storeID, ext, sku, title, cat, price, currency); err != nil {
		return nil, fmt.Errorf("create products: %w", err)
	}
	rows, err := db.Query(ctx, productIDsSQL, storeID, ext)
	if err != nil {
		return nil, fmt.Errorf("look up products: %w", err)
	}
	defer rows.Close()
	ids := make(map[string]int64, len(ext))
	for rows.Next() {
		var e string
		var id int64
		if err := rows.Scan(&e, &id); err != nil {
			return nil, fmt.Errorf("look up products: %w", err)
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
