/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tcpsndbuf, tcprcvbuf, othersockbuf, dgramrcvbuf: the bytes queued in the buffers of the
 * sockets a CT owns (as numtcpsock / numothersock charged them), read when asked.
 *
 * Socket buffers grow and shrink on every packet, in softirq, on paths with no LSM hook;
 * charging them per packet would put the engine on the network's hot path. Instead user
 * space runs these iterators when it reads the rows: each walks the live sockets of one
 * family (in the reader's network namespace), looks up the socket's owner, and writes one
 * ubc_iter_record per non-empty buffer. Held is exact at that moment; nothing refuses.
 *
 * OpenVZ's split: tcpsndbuf / tcprcvbuf = TCP send / receive queues; othersockbuf = send
 * buffers of every other socket (AF_UNIX, UDP ...); dgramrcvbuf = receive queues of the
 * non-TCP sockets.
 */
#ifndef UBC_SOCKBUFS_BPF_H
#define UBC_SOCKBUFS_BPF_H

#include "iter_records.bpf.h"
#include "sockets.bpf.h"

static __always_inline void ubc_emit_sockbuf(struct seq_file *seq,
					     const struct ubc_charge_owner *owner,
					     enum ubc_resource resource, __s64 bytes)
{
	if (bytes > 0)
		ubc_iter_write(seq, owner->slot, owner->generation, UBC_ITER_ROW, resource, bytes,
			       0);
}

/* Send-side bytes in flight: sk_wmem_alloc counts one extra reference while the socket
 * lives. */
static __always_inline __s64 ubc_wmem(struct sock *sk)
{
	return (__s64)BPF_CORE_READ(sk, sk_wmem_alloc.refs.counter) - 1;
}

static __always_inline __s64 ubc_rmem(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_backlog.rmem_alloc.counter);
}

SEC("iter/tcp")
int ubc_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *common = ctx->sk_common;
	struct ubc_charge_owner *owner;
	struct tcp_sock *tcp;
	struct sock *sk;
	__u64 key;

	if (!common)
		return 0;
	tcp = bpf_skc_to_tcp_sock(common);
	if (!tcp)
		return 0; /* time-wait and request socks have no buffers */
	sk = (struct sock *)tcp;
	key = (__u64)sk;
	owner = bpf_map_lookup_elem(&ubc_tcpsock_owner, &key);
	if (!owner)
		return 0;
	ubc_emit_sockbuf(ctx->meta->seq, owner, UBC_TCPSNDBUF, BPF_CORE_READ(sk, sk_wmem_queued));
	ubc_emit_sockbuf(ctx->meta->seq, owner, UBC_TCPRCVBUF, ubc_rmem(sk));
	return 0;
}

static __always_inline void ubc_other_sockbufs(struct seq_file *seq, struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct ubc_charge_owner *owner = bpf_map_lookup_elem(&ubc_othersock_owner, &key);

	if (!owner)
		return;
	ubc_emit_sockbuf(seq, owner, UBC_OTHERSOCKBUF, ubc_wmem(sk));
	ubc_emit_sockbuf(seq, owner, UBC_DGRAMRCVBUF, ubc_rmem(sk));
}

SEC("iter/udp")
int ubc_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (udp)
		ubc_other_sockbufs(ctx->meta->seq, (struct sock *)udp);
	return 0;
}

SEC("iter/unix")
int ubc_iter_unix(struct bpf_iter__unix *ctx)
{
	struct unix_sock *unix_sock = ctx->unix_sk;

	if (unix_sock)
		ubc_other_sockbufs(ctx->meta->seq, (struct sock *)unix_sock);
	return 0;
}

#endif /* UBC_SOCKBUFS_BPF_H */
