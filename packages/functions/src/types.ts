/** The app's FLXBL entities (`flxbl/schema.json`), as the client types them. */

export type OrderStatus = "pending" | "paid" | "refunded" | "expired" | "cancelled";

export interface Order {
  number: string;
  status: OrderStatus;
  /** In the currency's minor unit (cents). */
  total: number;
  currency: string;
  customerEmail?: string | null;
  paymentReference?: string | null;
  paidAt?: string | null;
  refundedAt?: string | null;
  expiredAt?: string | null;
  lastPaymentError?: string | null;
  metadata?: unknown;
}

export interface Product {
  sku: string;
  name: string;
  price: number;
  stock: number;
  lowStockThreshold: number;
  active: boolean;
  /** The sender's version of the last applied stock update. */
  stockVersion?: number | null;
  stockUpdatedAt?: string | null;
  tags?: string[] | null;
}

export interface StockAlert {
  productId: string;
  sku: string;
  stock: number;
  threshold: number;
  status: "open" | "resolved";
  resolvedAt?: string | null;
}
