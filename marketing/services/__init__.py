"""Marketing services, split by sub-domain: coupons, points, flash (秒杀 and its
Redis gate), promotions (满减), referrals, checkout (what an order consumes), stats.
"""
