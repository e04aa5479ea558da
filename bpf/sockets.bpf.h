/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * numtcpsock and numothersock: sockets a CT's tasks create, TCP ones in numtcpsock, every
 * other kind (AF_UNIX, UDP, raw, netlink, packet ...) in numothersock, as OpenVZ split them.
 * Refused past the barrier with ENOBUFS for inet sockets and ENOMEM for the others, as
 * OpenVZ did; kernel-internal sockets are never charged.
 *
 * Charge:   lsm/socket_post_create, where the struct sock exists (so its pointer can key
 *           the owner) and a refusal still fails socket()/socketpair() cleanly: the kernel
 *           releases the socket, and the free hook finds no owner for it.
 * Children: a TCP connection accepted by a listener is a new sock cloned in softirq
 *           (lsm/inet_csk_clone) and the server end of an AF_UNIX stream connection is made
 *           in the client's connect (lsm/unix_stream_connect): both are charged to the CT
 *           that owns the listener. The SYN (lsm/inet_conn_request) or the connect is
 *           refused while the listener's CT is at its barrier; the clone itself cannot
 *           fail, so children already past that check are charged even above it.
 * Uncharge: lsm/sk_free_security, for socks recorded in an owner map only.
 */
#ifndef UBC_SOCKETS_BPF_H
#define UBC_SOCKETS_BPF_H

#include "charge.bpf.h"

#define UBC_AF_UNIX 1
#define UBC_AF_INET 2
#define UBC_AF_INET6 10
#define UBC_SOCK_STREAM 1
#define UBC_IPPROTO_TCP 6

/* struct sock pointer -> the CT it is charged to, one map per row so the free hook knows
 * which row to uncharge without trusting the dying sock's fields. */
UBC_OWNER_MAP(ubc_tcpsock_owner, UBC_MAX_TRACKED_SOCKS);

UBC_OWNER_MAP(ubc_othersock_owner, UBC_MAX_TRACKED_SOCKS);

static __always_inline bool ubc_is_tcp(int family, int type, int protocol)
{
	return (family == UBC_AF_INET || family == UBC_AF_INET6) && type == UBC_SOCK_STREAM &&
	       (protocol == 0 || protocol == UBC_IPPROTO_TCP);
}

static __always_inline void *ubc_sock_owner_map(enum ubc_resource resource)
{
	return resource == UBC_NUMTCPSOCK ? (void *)&ubc_tcpsock_owner
					  : (void *)&ubc_othersock_owner;
}

SEC("lsm/socket_post_create")
int BPF_PROG(ubc_sock_charge, struct socket *sock, int family, int type, int protocol, int kern,
	     int ret)
{
	enum ubc_resource resource =
		ubc_is_tcp(family, type, protocol) ? UBC_NUMTCPSOCK : UBC_NUMOTHERSOCK;
	int refusal = family == UBC_AF_INET || family == UBC_AF_INET6 ? -ENOBUFS : -ENOMEM;
	struct sock *sk = sock->sk;
	struct ubc_ct_ref ct;

	if (ret || kern || !sk || !ubc_current_ct(&ct))
		return ret;
	if (ubc_charge_owned(ubc_sock_owner_map(resource), (__u64)sk, &ct, resource, 1, UBC_HARD))
		return refusal;
	return 0;
}

/* The CT a listening sock is charged to, if any. */
static __always_inline bool ubc_listener_ct(const struct sock *listener, enum ubc_resource resource,
					    struct ubc_ct_ref *ct)
{
	__u64 key = (__u64)listener;
	struct ubc_charge_owner *owner = bpf_map_lookup_elem(ubc_sock_owner_map(resource), &key);

	if (!owner)
		return false;
	ct->slot = owner->slot;
	ct->generation = owner->generation;
	ct->ct = ubc_owner_ct(owner);
	return ct->ct != NULL;
}

/* A child is refused while its listener's CT is at its barrier. */
static __always_inline int ubc_admit_child(const struct sock *listener, enum ubc_resource resource)
{
	struct ubc_counter *counter;
	struct ubc_ct_ref ct;
	__u64 held, threshold;

	if (!ubc_listener_ct(listener, resource, &ct))
		return 0;
	counter = &ct.ct->res[resource];
	held = READ_ONCE(counter->held);
	threshold = ubc_threshold(counter, resource, UBC_HARD);
	if (held + 1 <= threshold)
		return 0;
	ubc_refuse(ct.ct, counter, resource, 1, held, threshold);
	return -1;
}

/* The clone cannot be refused: the child is charged forced. */
static __always_inline void ubc_charge_child(const struct sock *listener, struct sock *child,
					     enum ubc_resource resource)
{
	struct ubc_ct_ref ct;

	if (ubc_listener_ct(listener, resource, &ct))
		ubc_charge_owned(ubc_sock_owner_map(resource), (__u64)child, &ct, resource, 1,
				 UBC_FORCE);
}

SEC("lsm/inet_conn_request")
int BPF_PROG(ubc_tcpsock_admit, const struct sock *sk, struct sk_buff *skb,
	     struct request_sock *req, int ret)
{
	if (ret)
		return ret;
	return ubc_admit_child(sk, UBC_NUMTCPSOCK) ? -ENOBUFS : 0;
}

SEC("lsm/inet_csk_clone")
int BPF_PROG(ubc_tcpsock_child, struct sock *newsk, const struct request_sock *req)
{
	/* The listener is the request's socket. */
	ubc_charge_child(req->__req_common.skc_listener, newsk, UBC_NUMTCPSOCK);
	return 0;
}

SEC("lsm/unix_stream_connect")
int BPF_PROG(ubc_unixsock_child, struct sock *sock, struct sock *other, struct sock *newsk, int ret)
{
	if (ret)
		return ret;
	if (ubc_admit_child(other, UBC_NUMOTHERSOCK))
		return -ENOMEM;
	ubc_charge_child(other, newsk, UBC_NUMOTHERSOCK);
	return 0;
}

/* The sock's own family, type and protocol name the map it is most likely in, which is
 * tried first; the other one after a miss, as a sock's family can change (IPV6_ADDRFORM). */
SEC("lsm/sk_free_security")
int BPF_PROG(ubc_sock_uncharge, struct sock *sk)
{
	enum ubc_resource likely =
		ubc_is_tcp(sk->__sk_common.skc_family, sk->sk_type, sk->sk_protocol)
			? UBC_NUMTCPSOCK
			: UBC_NUMOTHERSOCK;
	enum ubc_resource other = likely == UBC_NUMTCPSOCK ? UBC_NUMOTHERSOCK : UBC_NUMTCPSOCK;

	if (!ubc_uncharge_owned(ubc_sock_owner_map(likely), (__u64)sk, likely))
		ubc_uncharge_owned(ubc_sock_owner_map(other), (__u64)sk, other);
	return 0;
}

#endif /* UBC_SOCKETS_BPF_H */
